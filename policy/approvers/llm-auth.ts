/**
 * Authentication to the model provider: the approver's `api_key` secret, or a `bearer_token` /
 * `header_token` credential it names (Claw Patrol style). Secrets are read at each call
 * (policy/secrets.ts), so rotation needs no reload and a missing one fails only that call.
 */
import type { CredentialDecl, LlmApproverDecl } from '../config/model.js';
import { readSecret } from '../secrets.js';

export interface SecretContext {
  /** Where relative file() paths are resolved: the policy's folder. */
  baseDir: string;
  env?: NodeJS.ProcessEnv;
}

export function llmAuthHeaders(decl: LlmApproverDecl, credentials: readonly CredentialDecl[], secrets: SecretContext): (() => Record<string, string>) | undefined {
  if (!decl.apiKey && !decl.credential) return undefined;
  const credential = decl.credential ? credentials.find((c) => c.ref === decl.credential) : undefined;
  if (decl.credential && !credential) throw new Error(`approver ${decl.ref}: credential ${decl.credential} is not declared`);
  return () => {
    const headers: Record<string, string> = {};
    if (credential?.type === 'bearer_token') {
      headers.authorization = `Bearer ${readSecret(credential.token, secrets)}`;
    } else if (credential?.type === 'header_token') {
      headers[credential.header.toLowerCase()] = `${credential.prefix}${readSecret(credential.token, secrets)}`;
    }
    if (decl.apiKey) {
      const key = readSecret(decl.apiKey, secrets);
      if (decl.provider === 'anthropic') headers['x-api-key'] = key;
      else headers.authorization = `Bearer ${key}`;
    }
    return headers;
  };
}
