/**
 * How chat `messages` become one prompt for heldout's models, which are plain language models
 * trained on one example a line: the shipped base on `Add: 2+2=4`-style skill lines, the
 * quickstart's fine-tunes on `Q: <question>\nA: <answer>`. A conversation is written in that
 * second shape:
 *
 * ```
 * <system or developer message>      one line each, as given
 * Q: <user message>
 * A: <assistant message>
 * Q: <user message>
 * A:                                 the model writes the answer from here
 * ```
 *
 * The answer ends at the end of its line (a newline is an implicit stop of every chat request),
 * or at the end-of-text token. Its leading space (the one after `A:`) is dropped. A conversation
 * that ends with an assistant message is a prefill: the prompt ends `A: <that text>` and the
 * model continues it.
 *
 * @example
 * chatPrompt([{ role: 'user', content: 'What is the fee of plan 3?' }]);
 * // { prompt: 'Q: What is the fee of plan 3?\nA:', prefill: false }
 */
export function chatPrompt(messages: { role: ChatRole; content: string }[]): {
  prompt: string;
  prefill: boolean;
} {
  const last = messages.at(-1);
  const prefill = last?.role === 'assistant';
  const lines = messages.map((msg, i) => {
    const end = prefill && i === messages.length - 1 ? '' : '\n';
    if (msg.role === 'user') return `Q: ${msg.content}${end}`;
    if (msg.role === 'assistant') return `A: ${msg.content}${end}`;
    return `${msg.content}${end}`;
  });
  return { prompt: lines.join('') + (prefill ? '' : 'A:'), prefill };
}

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant';

/** What every chat completion stops at, besides the client's own stop strings. */
export const CHAT_STOPS = ['\n'];
