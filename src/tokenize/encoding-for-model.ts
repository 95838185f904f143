// Which tiktoken encoding approximates a model's tokenizer. OpenAI's current
// families use o200k_base; older GPT-3.5/4 use cl100k_base. Other vendors'
// tokenizers are not public; cl100k_base is the customary approximation.

export type EncodingName = 'o200k_base' | 'cl100k_base';

export function encodingForModel(model: string): EncodingName {
  const m = model.slice(model.lastIndexOf('/') + 1);
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o\d|chatgpt-4o|codex)/.test(m)) return 'o200k_base';
  return 'cl100k_base';
}
