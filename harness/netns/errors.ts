/** The test bed's errors, with stable names (a test fails with the name and a message that says what to do). */

/** The bed cannot be built here (not root, no `ip`, a firewall that drops bridged traffic). */
export class TestBedUnavailableError extends Error {
  override readonly name = 'TestBedUnavailableError';
}

/** A bed call named a host the bed does not have, or a fault that makes no sense (a cut of a host from itself). */
export class TestBedUsageError extends Error {
  override readonly name = 'TestBedUsageError';
}
