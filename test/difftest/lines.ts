/**
 * An indented line buffer for the emitters of the differential test.
 * @module
 */

/** Collects lines of source, indented by `unit` per level. */
export class Lines {
  private readonly out: string[] = [];
  private level = 0;

  constructor(private readonly unit: string) {}

  /** Appends each line at the current indentation (an empty string gives an empty line). */
  add(...lines: string[]): this {
    for (const line of lines) this.out.push(line === "" ? "" : this.unit.repeat(this.level) + line);
    return this;
  }

  /** Appends lines one level deeper. */
  nested(body: () => void): this {
    this.level++;
    try {
      body();
    } finally {
      this.level--;
    }
    return this;
  }

  toString(): string {
    return this.out.join("\n") + "\n";
  }
}

/** A string literal valid in both Python and JavaScript (the generator only makes printable ASCII strings). */
export function quote(text: string): string {
  if (!/^[\w .:-]*$/.test(text)) throw new RangeError(`quote: unexpected character in ${JSON.stringify(text)}`);
  return `"${text}"`;
}
