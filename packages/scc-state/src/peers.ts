/**
 * Who may talk to the state server, decided at the SocketCluster handshake: the peer's query names
 * its instance type, the port it serves on and a version whose major this state server accepts. And
 * what no peer may do: the state server carries no pub/sub.
 */
import {
  ACCEPTED_MAJORS,
  CompatibilityError,
  InstanceType,
  InvalidHandshakeError,
  SETTINGS,
  StateQuery,
  UnsupportedActionError,
  isCompatibleVersion,
  queryOf,
  validate,
  type AGServer,
  type InstanceTypeName,
  type ServerSocket,
} from '@scc-ts/shared';

/** What the handshake query told us about a peer. */
export interface Peer {
  instanceType: InstanceTypeName;
  instancePort: number;
  version: string;
  /** Whether this socket's worker was told to wait for the startup delay (it retries on the same socket). */
  toldToWait?: boolean;
}

/** Validates the handshake query: the peer it describes, or the error to refuse it with. */
export function peerOf(socket: ServerSocket): Peer | Error {
  const query = queryOf(socket.request.url);
  const instanceType = query.get(StateQuery.InstanceType);
  const version = query.get(StateQuery.Version);
  const port = Number(query.get(StateQuery.InstancePort));
  if (!isCompatibleVersion(version)) {
    const what = instanceType ?? 'SCC component';
    return new CompatibilityError(
      `The ${what}@${version ?? '(no version)'} at address ${socket.remoteAddress} is incompatible with this scc-state, which accepts major versions ${ACCEPTED_MAJORS.join(', ')}`,
    );
  }
  if (instanceType !== InstanceType.Broker && instanceType !== InstanceType.Worker) {
    return new InvalidHandshakeError(`${StateQuery.InstanceType} must be ${InstanceType.Broker} or ${InstanceType.Worker}, got ${JSON.stringify(instanceType?.slice(0, 64) ?? null)}`);
  }
  // The same check as the plugin's `instancePort` option.
  if (validate(SETTINGS.instancePort, port, false) !== null) {
    return new InvalidHandshakeError(
      `${StateQuery.InstancePort} must be a port number, got ${JSON.stringify(query.get(StateQuery.InstancePort)?.slice(0, 64) ?? null)}`,
    );
  }
  return { instanceType, instancePort: port, version: version ?? '' };
}

/**
 * The state server carries no pub/sub: a subscription or publish from a peer can only be a mistake
 * or an attempt to make it hold state, so both are refused with a named error.
 */
export function refusePubSub(agServer: AGServer): void {
  agServer.setMiddleware(agServer.MIDDLEWARE_INBOUND, async (stream) => {
    for await (const action of stream) {
      if (action.type === action.SUBSCRIBE || action.type === action.PUBLISH_IN) {
        action.block(new UnsupportedActionError(`scc-state carries no pub/sub (${action.type} refused)`));
        continue;
      }
      action.allow(undefined);
    }
  });
}
