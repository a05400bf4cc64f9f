import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BpeTokenizer } from './bpe.ts';
import { bpeFromTokenizerJson, bpeToTokenizerJson } from './bpe-json.ts';
import type { TokenizerJson } from './bpe-json.ts';
import { createByteTokenizer } from './byte.ts';
import { GPT2_VOCAB_SIZE, createGpt2Tokenizer } from './gpt2.ts';
import type { Tokenizer } from './types.ts';

/** Our key in `tokenizer_config.json`; Hugging Face ignores keys it does not know. */
const MARKER = 'heldout_tokenizer';

/**
 * Finds a model directory's tokenizer. The rule, first match wins:
 *
 * 1. `tokenizer.json` → a byte-level BPE read from it (ours, or GPT-2's own file from the Hub);
 *    `eos_token`/`bos_token`/`pad_token` come from `tokenizer_config.json` when it names them.
 * 2. `tokenizer_config.json` with `"heldout_tokenizer": "byte"` → the byte tokenizer, with the
 *    file's `special_tokens`; with `"gpt2"` → GPT-2.
 * 3. `config.json` with `vocab_size` 50257 → GPT-2 (a GPT-2 checkpoint that ships only
 *    `vocab.json`/`merges.txt`, or none: the ranks are bundled with `gpt-tokenizer`).
 *
 * Anything else is an error that says what was looked for.
 *
 * @example
 * const tok = await loadTokenizer('.heldout/models/tiny');
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  return tokenizerFromFiles((name) => readText(join(dir, name)), dir);
}

/**
 * `loadTokenizer`'s rule over files that need not be in a directory: `read(name)` gives a file's
 * text, or undefined when there is none, and `where` names the place in error messages. The
 * server checks a checkpoint's tokenizer with it straight from the blob store.
 *
 * @example
 * const tok = await tokenizerFromFiles(async (name) => files.get(name), 'checkpoints/step-1');
 */
export async function tokenizerFromFiles(
  read: (name: string) => Promise<string | undefined>,
  where: string,
): Promise<Tokenizer> {
  const json = async <T>(name: string): Promise<T | undefined> => {
    const text = await read(name);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new Error(`${where}/${name} is not valid JSON`, { cause });
    }
  };
  const tokenizerJson = await json<TokenizerJson>('tokenizer.json');
  const config = await json<Record<string, unknown>>('tokenizer_config.json');
  if (tokenizerJson) {
    return bpeFromTokenizerJson(tokenizerJson, {
      eosToken: tokenName(config?.eos_token),
      bosToken: tokenName(config?.bos_token),
      padToken: tokenName(config?.pad_token),
    });
  }
  const marker = config?.[MARKER];
  if (marker === 'byte') {
    const specials = config?.special_tokens;
    if (specials !== undefined && !isStringArray(specials)) {
      throw new Error(`${where}/tokenizer_config.json: special_tokens must be a list of strings`);
    }
    return createByteTokenizer(specials ? { specialTokens: specials } : {});
  }
  if (marker === 'gpt2') return createGpt2Tokenizer();
  if (marker !== undefined)
    throw new Error(`${where}: unknown ${MARKER} ${JSON.stringify(marker)}`);
  const model = await json<Record<string, unknown>>('config.json');
  if (model?.vocab_size === GPT2_VOCAB_SIZE) return createGpt2Tokenizer();
  throw new Error(
    `${where}: no tokenizer found (expected tokenizer.json, a tokenizer_config.json with ` +
      `"${MARKER}", or a config.json with GPT-2's vocab_size ${GPT2_VOCAB_SIZE})`,
  );
}

/**
 * Writes what `loadTokenizer` reads back: `tokenizer.json` for a BPE (loadable by Hugging Face
 * as a `PreTrainedTokenizerFast`), and always a `tokenizer_config.json` naming the kind and the
 * special tokens.
 *
 * @example
 * await saveTokenizer('ckpt/step-100', tok);
 */
export async function saveTokenizer(dir: string, tok: Tokenizer): Promise<void> {
  await mkdir(dir, { recursive: true });
  const nameOf = (id: number | undefined) =>
    id === undefined ? undefined : [...tok.specialTokens].find(([, i]) => i === id)?.[0];
  const config: Record<string, unknown> = {
    [MARKER]: tok.kind,
    eos_token: nameOf(tok.eosId),
    bos_token: nameOf(tok.bosId),
    pad_token: nameOf(tok.padId),
    // Hugging Face would otherwise tidy spaces around punctuation when decoding; we never do.
    clean_up_tokenization_spaces: false,
  };
  if (tok.kind === 'bpe') {
    if (!(tok instanceof BpeTokenizer)) throw new Error('a bpe tokenizer must be a BpeTokenizer');
    config.tokenizer_class = 'PreTrainedTokenizerFast';
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(bpeToTokenizerJson(tok)));
  }
  if (tok.kind === 'byte') {
    config.special_tokens = [...tok.specialTokens].sort((a, b) => a[1] - b[1]).map(([t]) => t);
  }
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Hugging Face writes a token either as its text or as an AddedToken object. */
function tokenName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { content?: unknown }).content === 'string'
  ) {
    return (v as { content: string }).content;
  }
  return undefined;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}
