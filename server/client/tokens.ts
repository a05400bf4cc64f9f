import type { CreatedToken, TokenInfo } from '../schemas/projects.ts';
import type { CreateGlobalToken } from '../schemas/tokens.ts';
import type { Transport } from './transport.ts';

/** Tokens for every project (remote workers'); minting and listing them needs a global admin. */
export function tokensClient(t: Transport) {
  return {
    /** A token for every project, `write` unless told; it always expires. */
    createGlobal: (body: CreateGlobalToken) => t.json<CreatedToken>('POST', '/tokens', body),
    listGlobal: async () => (await t.json<{ tokens: TokenInfo[] }>('GET', '/tokens')).tokens,
    revoke: (tokenId: number) => t.json<TokenInfo>('DELETE', `/tokens/${tokenId}`),
  };
}
