/**
 * The worker server's auth engine (socketcluster-server's documented `setAuthEngine`): the
 * server's own engine, with a shortcut for the common handshake that carries no token.
 *
 * socketcluster-server verifies the token of every handshake, even an absent one: ag-auth hands
 * `''` to jsonwebtoken, which builds a `JsonWebTokenError` ("jwt must be provided") with a stack
 * trace, which the server turns into an `AuthTokenInvalidError` and (for an absent token) ignores.
 * In a connection storm of 10,000 anonymous clients that error was about 7% of a worker's CPU. Here
 * an absent or empty token is refused at once with one shared error of the same name and message,
 * so the server reaches the same outcome (unauthenticated; for `''`, the same socket error) without
 * the work. Every other token goes to the server's engine unchanged.
 */
import type { AGServer } from '@scc-ts/shared';

type AuthEngine = AGServer['auth'];

/** jsonwebtoken's refusal of an empty token, as socketcluster-server reads it (`name`, `message`). */
const NO_TOKEN_ERROR: Error = Object.freeze(Object.assign(new Error('jwt must be provided'), { name: 'JsonWebTokenError' }));

/** `base`, refusing an absent or empty token without calling it. */
export function skipAbsentTokens(base: AuthEngine): AuthEngine {
  return {
    verifyToken: (signedToken, key, options) => (signedToken == null || signedToken === '' ? Promise.reject(NO_TOKEN_ERROR) : base.verifyToken(signedToken, key, options)),
    signToken: (token, key, options) => base.signToken(token, key, options),
  };
}
