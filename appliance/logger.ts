/** Structured one-line logs on stderr: `time level message key=value ...`, or JSON lines. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function createLogger(options: { json?: boolean; write?: (line: string) => void } = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const log = (level: string) => (message: string, fields: Record<string, unknown> = {}) => {
    const time = new Date().toISOString();
    if (options.json) {
      write(JSON.stringify({ time, level, message, ...fields }));
      return;
    }
    const rest = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
    write([time, level.padEnd(5), message, ...rest].join(' '));
  };
  return { info: log('info'), warn: log('warn'), error: log('error') };
}
