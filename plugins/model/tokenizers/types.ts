/** The three tokenizer families heldout runs; see load.ts for how a model directory picks one. */
export type TokenizerKind = 'byte' | 'bpe' | 'gpt2';

export interface EncodeOptions {
  /**
   * Whether special-token text such as `<|endoftext|>` in the input becomes the special id.
   * Off by default, so that text from a dataset or a user cannot forge an end of sequence: it is
   * then encoded as the ordinary characters it is made of.
   */
  allowSpecial?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens instead of writing out their text. */
  skipSpecial?: boolean;
}

/**
 * What the trainers, the evaluator and generation need from a tokenizer. Ids are dense,
 * `0 ≤ id < vocabSize`, and match the rows of the model's embedding matrix.
 */
export interface Tokenizer {
  readonly kind: TokenizerKind;
  readonly vocabSize: number;
  /** End of text; also what sequences are padded with when `padId` is the same id. */
  readonly eosId: number;
  readonly bosId?: number;
  readonly padId?: number;
  /** Special token text → id. */
  readonly specialTokens: ReadonlyMap<string, number>;
  encode(text: string, options?: EncodeOptions): number[];
  /** Invalid or truncated UTF-8 (a sequence cut mid-character) decodes to U+FFFD, never throws. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
}
