import { describe, expect, it } from 'vitest';
import { chatPrompt } from '../../server/serve/chat-template.ts';
import { OpenAiError } from '../../server/serve/errors.ts';
import { ServeLimiter } from '../../server/serve/limiter.ts';
import { parseChat, parseCompletion } from '../../server/serve/requests.ts';
import { parseModelName } from '../../server/serve/resolve.ts';

describe('model names', () => {
  it('reads <model>@<alias> and <model>/<version>, with an optional project in front', () => {
    expect(parseModelName('legal-assistant@production')).toEqual({
      project: undefined,
      model: 'legal-assistant',
      alias: 'production',
      version: undefined,
    });
    expect(parseModelName('bank/legal-assistant/3')).toMatchObject({
      project: 'bank',
      model: 'legal-assistant',
      version: 3,
    });
    // MLflow experiment names (projects) may hold slashes; model names never do.
    expect(parseModelName('/Users/me/exp/bot@staging')).toMatchObject({
      project: '/Users/me/exp',
      model: 'bot',
      alias: 'staging',
    });
    for (const bad of ['bot', 'bot@', 'bot/v2', '3/bot', 'bot@prod@x', ''])
      expect(parseModelName(bad), bad).toBeUndefined();
  });
});

describe('the chat template', () => {
  it('writes turns as Q:/A: lines and leaves the answer open', () => {
    expect(
      chatPrompt([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Fee of plan 3?' },
        { role: 'assistant', content: 'Plan 3 costs 21 dollars a month.' },
        { role: 'user', content: 'And plan 4?' },
      ]),
    ).toEqual({
      prompt:
        'Be brief.\nQ: Fee of plan 3?\nA: Plan 3 costs 21 dollars a month.\nQ: And plan 4?\nA:',
      prefill: false,
    });
    expect(
      chatPrompt([
        { role: 'user', content: 'Fee of plan 4?' },
        { role: 'assistant', content: 'Plan 4' },
      ]),
    ).toEqual({ prompt: 'Q: Fee of plan 4?\nA: Plan 4', prefill: true });
  });
});

describe('request bodies', () => {
  const param = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err instanceof OpenAiError ? `${err.status} ${err.param}` : String(err);
    }
    return 'accepted';
  };

  it('names the parameter of every refusal', () => {
    const ok = { model: 'bot@production', prompt: 'hi' };
    expect(param(() => parseCompletion(ok))).toBe('accepted');
    expect(param(() => parseCompletion({ prompt: 'hi' }))).toBe('400 model');
    expect(param(() => parseCompletion({ ...ok, top_p: 0 }))).toBe('400 top_p');
    expect(param(() => parseCompletion({ ...ok, stop: ['a', 'b', 'c', 'd', 'e'] }))).toBe(
      '400 stop',
    );
    expect(param(() => parseCompletion({ ...ok, prompt: [[1, 2]] }))).toBe('400 prompt');
    expect(param(() => parseCompletion({ ...ok, echo: true }))).toBe('400 echo');
    expect(param(() => parseCompletion({ ...ok, presence_penalty: 0 }))).toBe('accepted');
    expect(param(() => parseCompletion({ ...ok, seed: 1.5 }))).toBe('400 seed');
    expect(param(() => parseCompletion([ok]))).toBe('400 null');
    const chat = { model: 'bot/1', messages: [{ role: 'user', content: 'hi' }] };
    expect(param(() => parseChat(chat))).toBe('accepted');
    expect(param(() => parseChat({ ...chat, messages: [] }))).toBe('400 messages');
    expect(param(() => parseChat({ ...chat, tools: [{ type: 'function' }] }))).toBe('400 tools');
    expect(
      param(() =>
        parseChat({ ...chat, messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }),
      ),
    ).toBe('400 messages[0].content');
  });

  it('takes OpenAI defaults and text parts', () => {
    expect(
      parseChat({
        model: 'bot/1',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'a' },
              { type: 'text', text: 'b' },
            ],
          },
        ],
        stop: 'x',
      }),
    ).toMatchObject({
      temperature: 1,
      topP: 1,
      stops: ['x'],
      stream: false,
      maxTokens: undefined,
      messages: [{ role: 'user', content: 'ab' }],
    });
  });
});

describe('the serving queue', () => {
  it('runs `concurrency` at once, queues `queue` in order, and refuses the next', async () => {
    const limiter = new ServeLimiter(1, 2);
    const first = await limiter.acquire();
    const order: string[] = [];
    const second = limiter.acquire().then((release) => (order.push('second'), release));
    const leaver = new AbortController();
    const third = limiter.acquire(leaver.signal);
    await expect(limiter.acquire()).rejects.toMatchObject({ status: 429 });
    leaver.abort();
    await expect(third).rejects.toMatchObject({ code: 'cancelled' });
    expect(limiter.waiting).toBe(1);
    const fourth = limiter.acquire().then((release) => (order.push('fourth'), release));
    first();
    (await second)();
    (await fourth)();
    expect(order).toEqual(['second', 'fourth']);
    expect([limiter.active, limiter.waiting]).toEqual([0, 0]);
  });
});
