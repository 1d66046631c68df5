/** WebAssembly text to binary with wabt (a dev dependency: used by tools/ and tests only). */
import wabtInit from 'wabt';

export async function compileWat(name: string, text: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const module = wabt.parseWat(name, text, { bulk_memory: true });
  try {
    module.validate();
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}
