// Generate Code turns a chat answer into code to insert: the first fenced code (```…```) if there is one (chat models
// wrap code in ``` fences), else the whole answer; trailing whitespace trimmed, one final newline.
export function extractCode(text: string): string {
  const fenced = /```[\w+-]*\n([\s\S]*?)(```|$)/.exec(text);
  return (fenced ? fenced[1] : text).replace(/\s+$/, '') + '\n';
}
