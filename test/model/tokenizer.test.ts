import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createByteTokenizer,
  createGpt2Tokenizer,
  loadTokenizer,
  saveTokenizer,
  trainBpe,
} from '../../plugins/model/tokenizers/index.ts';
import { SAMPLES, wellFormed } from './tokenizer-samples.ts';

describe('byte tokenizer', () => {
  const tok = createByteTokenizer();

  it('has one id per byte and <|endoftext|> at 256', () => {
    expect([tok.kind, tok.vocabSize, tok.eosId, tok.padId]).toEqual(['byte', 257, 256, 256]);
    expect(tok.encode('hé')).toEqual([104, 195, 169]);
    for (const s of SAMPLES) expect(tok.decode(tok.encode(s))).toBe(wellFormed(s));
  });

  it('encodes special-token text as plain bytes unless asked', () => {
    const text = 'a<|endoftext|>b';
    expect(tok.encode(text)).toEqual([...Buffer.from(text)]);
    expect(tok.encode(text, { allowSpecial: true })).toEqual([97, 256, 98]);
    expect(tok.decode([97, 256, 98])).toBe(text);
    expect(tok.decode([97, 256, 98], { skipSpecial: true })).toBe('ab');
  });

  it('decodes invalid or cut-off UTF-8 to replacement characters', () => {
    expect(tok.decode([0xf0, 0x9f])).toBe('\ufffd');
    expect(tok.decode([0xff, 104, 0xc3])).toBe('\ufffdh\ufffd');
    expect(tok.decode([0xe2, 0x82, 256])).toBe('\ufffd<|endoftext|>');
    expect(() => tok.decode([257])).toThrow(RangeError);
  });

  it('takes its own special tokens, numbered from 256', () => {
    const t = createByteTokenizer({ specialTokens: ['<|eos|>', '<|pad|>', '<|eos|x>'] });
    expect(t.vocabSize).toBe(259);
    expect(t.encode('<|eos|x><|pad|>', { allowSpecial: true })).toEqual([258, 257]);
  });
});

describe('gpt2 tokenizer', () => {
  it('matches known GPT-2 ids', async () => {
    const tok = await createGpt2Tokenizer();
    expect([tok.kind, tok.vocabSize, tok.eosId]).toEqual(['gpt2', 50257, 50256]);
    // Reference ids from Hugging Face's GPT2TokenizerFast.
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.encode(' Hello world!')).toEqual([18435, 995, 0]);
    expect(tok.encode("I'm here")).toEqual([40, 1101, 994]);
    expect(tok.encode('<|endoftext|>', { allowSpecial: true })).toEqual([50256]);
    expect(tok.encode('<|endoftext|>')).toEqual([27, 91, 437, 1659, 5239, 91, 29]);
    for (const s of SAMPLES) expect(tok.decode(tok.encode(s))).toBe(wellFormed(s));
  });

  it('decodes a cut-off character to U+FFFD and keeps no state between calls', async () => {
    const tok = await createGpt2Tokenizer();
    const emoji = tok.encode('😀');
    expect(emoji.length).toBeGreaterThan(1);
    expect(tok.decode(emoji.slice(0, 1))).toBe('\ufffd');
    expect(tok.decode([15496])).toBe('Hello');
    expect(tok.decode([15496, 50256], { skipSpecial: true })).toBe('Hello');
  });
});

describe('loadTokenizer / saveTokenizer', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  const tempDir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'heldout-tok-'));
    dirs.push(d);
    return d;
  };

  it('round-trips each kind through a directory', async () => {
    const bpe = trainBpe(SAMPLES, { vocabSize: 300, minFrequency: 1 });
    const kinds = [createByteTokenizer({ specialTokens: ['<|endoftext|>', '<|pad|>'] }), bpe];
    for (const tok of [...kinds, await createGpt2Tokenizer()]) {
      const dir = await tempDir();
      await saveTokenizer(dir, tok);
      const back = await loadTokenizer(dir);
      expect([back.kind, back.vocabSize, back.eosId]).toEqual([tok.kind, tok.vocabSize, tok.eosId]);
      for (const s of SAMPLES) expect(back.encode(s)).toEqual(tok.encode(s));
    }
  });

  it('falls back to GPT-2 for a GPT-2 vocabulary and explains an empty directory', async () => {
    const dir = await tempDir();
    await expect(loadTokenizer(dir)).rejects.toThrow(/no tokenizer found/);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ vocab_size: 50257 }));
    expect((await loadTokenizer(dir)).kind).toBe('gpt2');
  });
});
