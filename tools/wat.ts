/** WebAssembly text to binary with wabt (a dev dependency: gen-wasm.ts and the test that checks its output). */
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
