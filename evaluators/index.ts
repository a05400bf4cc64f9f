import { bleuCorpus, bleuSentence } from './metrics/bleu.ts';
import { chrfCorpus, chrfSentence } from './metrics/chrf.ts';

export const bleu = { corpus: bleuCorpus, sentence: bleuSentence };
export const chrf = { corpus: chrfCorpus, sentence: chrfSentence };
