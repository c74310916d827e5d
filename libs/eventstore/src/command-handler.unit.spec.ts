import { retryOnConflict } from './command-handler';
import { WrongExpectedVersionError } from './errors';

const conflict = () => new WrongExpectedVersionError('s-1', 1, 2);

describe('retryOnConflict', () => {
  it('runs again after a version conflict and returns the first success', async () => {
    const seen: number[] = [];
    let conflicts = 0;
    const result = await retryOnConflict(
      3,
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 2) throw conflict();
        return 'done';
      },
      () => (conflicts += 1),
    );
    expect(result).toBe('done');
    expect(seen).toEqual([0, 1, 2]);
    expect(conflicts).toBe(2);
  });

  it('gives up after the bounded retries with the conflict itself', async () => {
    let attempts = 0;
    await expect(
      retryOnConflict(2, async () => {
        attempts += 1;
        throw conflict();
      }),
    ).rejects.toBeInstanceOf(WrongExpectedVersionError);
    expect(attempts).toBe(3);
  });

  it('does not retry any other error', async () => {
    let attempts = 0;
    await expect(
      retryOnConflict(5, async () => {
        attempts += 1;
        throw new Error('database is down');
      }),
    ).rejects.toThrow('database is down');
    expect(attempts).toBe(1);
  });
});
