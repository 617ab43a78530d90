// Writes that finish() can wait for, so the process never exits with output still buffered.

/** Write `text` and resolve once the stream has taken it (errors resolve too: output is best effort). */
export function writeText(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (text === '') return Promise.resolve();
  return new Promise((resolve) => {
    out.write(text, () => resolve());
  });
}
