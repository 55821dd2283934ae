import { describe, expect, it } from 'vitest';
import { authKeyMatches, queryOf } from '../src/auth.js';

describe('authKeyMatches', () => {
  it('accepts the same key', () => {
    expect(authKeyMatches('s3cret', 's3cret')).toBe(true);
  });

  it('refuses a different key of the same length', () => {
    expect(authKeyMatches('s3cret', 's3creT')).toBe(false);
    expect(authKeyMatches('s3cret', 'S3cret')).toBe(false);
  });

  it('refuses keys of a different length (no throw from timingSafeEqual)', () => {
    expect(authKeyMatches('s3cret', 's3cret!')).toBe(false);
    expect(authKeyMatches('s3cret', 's3cre')).toBe(false);
    expect(authKeyMatches('s3cret', '')).toBe(false);
    expect(authKeyMatches('s3cret', 's3cret'.repeat(1000))).toBe(false);
  });

  it('refuses a missing key', () => {
    expect(authKeyMatches('s3cret', null)).toBe(false);
  });

  it('does not take the literal "null" a keyless client sends for a match', () => {
    expect(authKeyMatches('s3cret', 'null')).toBe(false);
  });

  it('compares unicode keys by their exact characters', () => {
    expect(authKeyMatches('ключ-🔑-鍵', 'ключ-🔑-鍵')).toBe(true);
    expect(authKeyMatches('ключ-🔑-鍵', 'ключ-🔒-鍵')).toBe(false);
    // é precomposed vs e + combining accent: different strings, different keys.
    expect(authKeyMatches('caf\u00e9', 'cafe\u0301')).toBe(false);
  });
});

describe('queryOf', () => {
  it('is empty without a URL or a query', () => {
    expect([...queryOf(undefined).keys()]).toEqual([]);
    expect([...queryOf('/socketcluster/').keys()]).toEqual([]);
    expect([...queryOf('').keys()]).toEqual([]);
    expect(queryOf('/socketcluster/').get('authKey')).toBeNull();
  });

  it('reads the parameters a state-server client sends, authKey=null as the literal string', () => {
    const query = queryOf('/socketcluster/?authKey=null&instancePort=8000&instanceType=scc-worker&version=9.2.0');
    expect(query.get('authKey')).toBe('null');
    expect(query.get('instancePort')).toBe('8000');
    expect(query.get('instanceType')).toBe('scc-worker');
    expect(query.get('version')).toBe('9.2.0');
  });

  it('decodes encoded values', () => {
    expect(queryOf('/socketcluster/?authKey=a%20b%26c%3Dd').get('authKey')).toBe('a b&c=d');
    expect(queryOf('/socketcluster/?authKey=a+b').get('authKey')).toBe('a b');
    expect(queryOf('/socketcluster/?authKey=%E2%9C%93%F0%9F%94%91').get('authKey')).toBe('✓🔑');
    expect(queryOf('/socketcluster/?authKey=x%3Fy').get('authKey')).toBe('x?y');
  });

  it('gives an empty string for an empty value', () => {
    expect(queryOf('/socketcluster/?authKey=').get('authKey')).toBe('');
  });

  it('splits at the first question mark only', () => {
    expect(queryOf('/socketcluster/?authKey=a?b').get('authKey')).toBe('a?b');
  });
});
