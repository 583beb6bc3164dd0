/** Polls `what` every 5 ms of real time until it holds; fails after `ms`. For tests on real devices (FIFOs, PTYs). */
export async function until(what: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}
