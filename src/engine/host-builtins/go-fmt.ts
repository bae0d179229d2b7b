/**
 * Go's fmt.Sprintf for the four kinds of argument OPA's sprintf passes it: an
 * int64, a *big.Int, a float64 and a string (go/src/fmt/print.go doPrintf and
 * format.go, math/big's Int.Format). Verbs, flags, width, precision, `*`,
 * explicit argument indexes and Go's error notes (`%!d(string=x)`, `%!v(MISSING)`,
 * `%!(EXTRA …)`, `%!(NOVERB)`, `%!(BADWIDTH)` …) all follow Go, so a policy's
 * messages read the same from the embedded engine as from OPA.
 */
import { formatFloat } from './go-float.js';
import { canBackquote, goQuote, goQuoteRune, isPrint, runes } from './go-quote.js';

/** An argument as OPA hands it to fmt. */
export type GoArg =
  | { readonly t: 'int64'; readonly v: bigint }
  | { readonly t: 'big'; readonly v: bigint }
  | { readonly t: 'float64'; readonly v: number }
  | { readonly t: 'string'; readonly v: string };

const TYPE_NAMES = { int64: 'int64', big: '*big.Int', float64: 'float64', string: 'string' } as const;
const MAX_RUNE = 0x10ffff;
const TOO_LARGE = 1_000_000;

/** Sprintf(format, args...) as Go formats it. */
export function goSprintf(format: string, args: readonly GoArg[]): string {
  return new Printer(args).print(format);
}

class Printer {
  out = '';
  // fmt's flags, width and precision for the verb at hand.
  widPresent = false;
  precPresent = false;
  minus = false;
  plus = false;
  sharp = false;
  space = false;
  zero = false;
  plusV = false;
  sharpV = false;
  wid = 0;
  prec = 0;
  reordered = false;
  goodArgNum = true;

  constructor(private readonly a: readonly GoArg[]) {}

  clearFlags(): void {
    this.widPresent = this.precPresent = this.minus = this.plus = this.sharp = false;
    this.space = this.zero = this.plusV = this.sharpV = false;
    this.wid = this.prec = 0;
  }

  print(format: string): string {
    const end = format.length;
    let argNum = 0;
    let afterIndex = false;
    let i = 0;
    while (i < end) {
      this.goodArgNum = true;
      const lasti = i;
      while (i < end && format[i] !== '%') i++;
      if (i > lasti) this.out += format.slice(lasti, i);
      if (i >= end) break;
      i++;
      this.clearFlags();
      flags: for (; i < end; i++) {
        switch (format.charAt(i)) {
          case '#':
            this.sharp = true;
            break;
          case '0':
            this.zero = true;
            break;
          case '+':
            this.plus = true;
            break;
          case '-':
            this.minus = true;
            break;
          case ' ':
            this.space = true;
            break;
          default:
            break flags;
        }
      }
      [argNum, i, afterIndex] = this.argNumber(argNum, format, i);
      if (i < end && format[i] === '*') {
        i++;
        [this.wid, this.widPresent, argNum] = this.intFromArg(argNum);
        if (!this.widPresent) this.out += '%!(BADWIDTH)';
        if (this.wid < 0) {
          this.wid = -this.wid;
          this.minus = true;
          this.zero = false;
        }
        afterIndex = false;
      } else {
        [this.wid, this.widPresent, i] = parseNum(format, i, end);
        if (afterIndex && this.widPresent) this.goodArgNum = false;
      }
      if (i + 1 < end && format[i] === '.') {
        i++;
        if (afterIndex) this.goodArgNum = false;
        [argNum, i, afterIndex] = this.argNumber(argNum, format, i);
        if (i < end && format[i] === '*') {
          i++;
          [this.prec, this.precPresent, argNum] = this.intFromArg(argNum);
          if (this.prec < 0) {
            this.prec = 0;
            this.precPresent = false;
          }
          if (!this.precPresent) this.out += '%!(BADPREC)';
          afterIndex = false;
        } else {
          [this.prec, this.precPresent, i] = parseNum(format, i, end);
          if (!this.precPresent) {
            this.prec = 0;
            this.precPresent = true;
          }
        }
      }
      if (!afterIndex) [argNum, i, afterIndex] = this.argNumber(argNum, format, i);
      if (i >= end) {
        this.out += '%!(NOVERB)';
        break;
      }
      const verb = String.fromCodePoint(format.codePointAt(i) as number);
      i += verb.length;
      if (verb === '%') this.out += '%';
      else if (!this.goodArgNum) this.out += `%!${verb}(BADINDEX)`;
      else if (argNum >= this.a.length) this.out += `%!${verb}(MISSING)`;
      else {
        if (verb === 'v') {
          this.sharpV = this.sharp;
          this.sharp = false;
          this.plusV = this.plus;
          this.plus = false;
        }
        this.printArg(this.a[argNum] as GoArg, verb);
        argNum++;
      }
    }
    if (!this.reordered && argNum < this.a.length) {
      this.clearFlags();
      this.out += '%!(EXTRA ';
      this.a.slice(argNum).forEach((arg, k) => {
        if (k > 0) this.out += ', ';
        this.out += `${TYPE_NAMES[arg.t]}=`;
        this.printArg(arg, 'v');
      });
      this.out += ')';
    }
    return this.out;
  }

  argNumber(argNum: number, format: string, i: number): [number, number, boolean] {
    if (format.length <= i || format[i] !== '[') return [argNum, i, false];
    this.reordered = true;
    const close = format.indexOf(']', i + 1);
    if (format.length - i < 3 || close < 0) {
      this.goodArgNum = false;
      return [argNum, i + 1, false];
    }
    const [n, ok, after] = parseNum(format, i + 1, close);
    if (!ok || after !== close) {
      this.goodArgNum = false;
      return [argNum, close + 1, false];
    }
    const index = n - 1;
    if (index >= 0 && index < this.a.length) return [index, close + 1, true];
    this.goodArgNum = false;
    return [argNum, close + 1, true];
  }

  intFromArg(argNum: number): [number, boolean, number] {
    const arg = this.a[argNum];
    if (arg === undefined) return [0, false, argNum];
    if (arg.t !== 'int64' || arg.v > TOO_LARGE || arg.v < -TOO_LARGE) return [0, false, argNum + 1];
    return [Number(arg.v), true, argNum + 1];
  }

  printArg(arg: GoArg, verb: string): void {
    if (verb === 'T') return this.fmtS(TYPE_NAMES[arg.t]);
    switch (arg.t) {
      case 'int64':
        return this.printInteger(arg, verb);
      case 'float64':
        return this.printFloat(arg, verb);
      case 'string':
        return this.printString(arg, verb);
      case 'big':
        return this.formatBig(arg.v, verb);
    }
  }

  badVerb(arg: GoArg, verb: string): void {
    this.out += `%!${verb}(${TYPE_NAMES[arg.t]}=`;
    this.printArg(arg, 'v');
    this.out += ')';
  }

  // --- padding (format.go) ---

  padding(n: number): string {
    return n <= 0 ? '' : (this.zero && !this.minus ? '0' : ' ').repeat(n);
  }

  pad(s: string): void {
    if (!this.widPresent || this.wid === 0) {
      this.out += s;
      return;
    }
    const fill = this.padding(this.wid - runes(s).length);
    this.out += this.minus ? s + fill : fill + s;
  }

  /** pad with zero padding switched off (numbers pad with zeros themselves). */
  padNoZero(s: string): void {
    const zero = this.zero;
    this.zero = false;
    this.pad(s);
    this.zero = zero;
  }

  // --- integers ---

  printInteger(arg: GoArg & { t: 'int64' }, verb: string): void {
    const v = arg.v;
    switch (verb) {
      case 'v':
      case 'd':
        return this.fmtInteger(v, 10, verb, false);
      case 'b':
        return this.fmtInteger(v, 2, verb, false);
      case 'o':
      case 'O':
        return this.fmtInteger(v, 8, verb, false);
      case 'x':
        return this.fmtInteger(v, 16, verb, false);
      case 'X':
        return this.fmtInteger(v, 16, verb, true);
      case 'c':
        return this.pad(String.fromCodePoint(validRune(v)));
      case 'q':
        return this.pad(goQuoteRune(validRune(v), this.plus));
      case 'U':
        return this.fmtUnicode(BigInt.asUintN(64, v));
      default:
        return this.badVerb(arg, verb);
    }
  }

  fmtInteger(v: bigint, base: number, verb: string, upper: boolean): void {
    const negative = v < 0n;
    const u = negative ? -v : v;
    let prec = 0;
    if (this.precPresent) {
      prec = this.prec;
      if (prec === 0 && u === 0n) {
        const zero = this.zero;
        this.zero = false;
        this.out += this.padding(this.wid);
        this.zero = zero;
        return;
      }
    } else if (this.zero && !this.minus && this.widPresent) {
      prec = this.wid;
      if (negative || this.plus || this.space) prec--;
    }
    let s = u.toString(base);
    if (upper) s = s.toUpperCase();
    s = s.padStart(prec, '0');
    if (this.sharp) {
      if (base === 2) s = `0b${s}`;
      else if (base === 8 && s[0] !== '0') s = `0${s}`;
      else if (base === 16) s = `0${upper ? 'X' : 'x'}${s}`;
    }
    if (verb === 'O') s = `0o${s}`;
    if (negative) s = `-${s}`;
    else if (this.plus) s = `+${s}`;
    else if (this.space) s = ` ${s}`;
    this.padNoZero(s);
  }

  fmtUnicode(u: bigint): void {
    let prec = 4;
    if (this.precPresent && this.prec > 4) prec = this.prec;
    let s = `U+${u.toString(16).toUpperCase().padStart(prec, '0')}`;
    if (this.sharp && u <= BigInt(MAX_RUNE) && isPrint(Number(u))) s += ` '${String.fromCodePoint(Number(u))}'`;
    this.padNoZero(s);
  }

  /** math/big's Int.Format. */
  formatBig(x: bigint, verb: string): void {
    const bases: Record<string, number> = { b: 2, o: 8, O: 8, d: 10, s: 10, v: 10, x: 16, X: 16 };
    const base = bases[verb];
    if (base === undefined) {
      this.out += `%!${verb}(big.Int=${x})`;
      return;
    }
    const sign = x < 0n ? '-' : this.plus || this.plusV ? '+' : this.space ? ' ' : '';
    let prefix = '';
    if (this.sharp || this.sharpV)
      prefix = ({ b: '0b', o: '0', x: '0x', X: '0X' } as Record<string, string>)[verb] ?? '';
    if (verb === 'O') prefix = '0o';
    let digits = (x < 0n ? -x : x).toString(base);
    if (verb === 'X') digits = digits.toUpperCase();
    let zeros = 0;
    if (this.precPresent) {
      if (digits.length < this.prec) zeros = this.prec - digits.length;
      else if (digits === '0' && this.prec === 0) return;
    }
    const length = sign.length + prefix.length + zeros + digits.length;
    let left = 0;
    let right = 0;
    if (this.widPresent && length < this.wid) {
      const d = this.wid - length;
      if (this.minus) right = d;
      else if (this.zero && !this.precPresent) zeros = d;
      else left = d;
    }
    this.out += ' '.repeat(left) + sign + prefix + '0'.repeat(zeros) + digits + ' '.repeat(right);
  }

  // --- floats ---

  printFloat(arg: GoArg & { t: 'float64' }, verb: string): void {
    switch (verb) {
      case 'v':
        return this.fmtFloat(arg.v, 'g', -1);
      case 'b':
      case 'g':
      case 'G':
      case 'x':
      case 'X':
        return this.fmtFloat(arg.v, verb, -1);
      case 'f':
      case 'e':
      case 'E':
        return this.fmtFloat(arg.v, verb, 6);
      case 'F':
        return this.fmtFloat(arg.v, 'f', 6);
      default:
        return this.badVerb(arg, verb);
    }
  }

  fmtFloat(v: number, verb: string, precIn: number): void {
    const prec = this.precPresent ? this.prec : precIn;
    let num = formatFloat(v, verb, prec);
    if (num[0] !== '-' && num[0] !== '+') num = `+${num}`;
    if (this.space && num[0] === '+' && !this.plus) num = ` ${num.slice(1)}`;
    if (num[1] === 'I' || num[1] === 'N') {
      if (num[1] === 'N' && !this.space && !this.plus) num = num.slice(1);
      this.padNoZero(num);
      return;
    }
    if (this.sharp && verb !== 'b') num = sharpFloat(num, verb, prec);
    if (this.plus || num[0] !== '+') {
      if (this.zero && !this.minus && this.widPresent && this.wid > num.length) {
        this.out += num[0] + this.padding(this.wid - num.length) + num.slice(1);
        return;
      }
      this.pad(num);
      return;
    }
    this.pad(num.slice(1));
  }

  // --- strings ---

  printString(arg: GoArg & { t: 'string' }, verb: string): void {
    switch (verb) {
      case 'v':
        return this.sharpV ? this.fmtQ(arg.v) : this.fmtS(arg.v);
      case 's':
        return this.fmtS(arg.v);
      case 'x':
        return this.fmtSx(arg.v, false);
      case 'X':
        return this.fmtSx(arg.v, true);
      case 'q':
        return this.fmtQ(arg.v);
      default:
        return this.badVerb(arg, verb);
    }
  }

  truncate(s: string): string {
    if (!this.precPresent) return s;
    const chars = [...s];
    return chars.length > this.prec ? chars.slice(0, this.prec).join('') : s;
  }

  fmtS(s: string): void {
    this.pad(this.truncate(s));
  }

  fmtQ(str: string): void {
    const s = this.truncate(str);
    if (this.sharp && canBackquote(s)) this.pad(`\`${s}\``);
    else this.pad(goQuote(s, this.plus));
  }

  fmtSx(s: string, upper: boolean): void {
    let bytes = Buffer.from(s, 'utf8');
    if (this.precPresent && this.prec < bytes.length) bytes = bytes.subarray(0, this.prec);
    const length = bytes.length;
    let width = 2 * length;
    if (width > 0) {
      if (this.space) {
        if (this.sharp) width *= 2;
        width += length - 1;
      } else if (this.sharp) width += 2;
    } else {
      if (this.widPresent) this.out += this.padding(this.wid);
      return;
    }
    if (this.widPresent && this.wid > width && !this.minus) this.out += this.padding(this.wid - width);
    const x = upper ? '0X' : '0x';
    let body = this.sharp ? x : '';
    bytes.forEach((c, k) => {
      if (this.space && k > 0) body += this.sharp ? ` ${x}` : ' ';
      const h = c.toString(16).padStart(2, '0');
      body += upper ? h.toUpperCase() : h;
    });
    this.out += body;
    if (this.widPresent && this.wid > width && this.minus) this.out += this.padding(this.wid - width);
  }
}

// A decimal number at s[start:end]: its value, whether there was one, and where it stopped.
function parseNum(s: string, start: number, end: number): [number, boolean, number] {
  if (start >= end) return [0, false, end];
  let num = 0;
  let isNum = false;
  let i = start;
  for (; i < end && s[i]! >= '0' && s[i]! <= '9'; i++) {
    if (num > TOO_LARGE || num < -TOO_LARGE) return [0, false, end];
    num = num * 10 + (s.charCodeAt(i) - 0x30);
    isNum = true;
  }
  return [num, isNum, i];
}

// A rune as Go's %c and %q take an int64: out of range, negative or a surrogate is U+FFFD.
function validRune(v: bigint): number {
  if (v < 0n || v > BigInt(MAX_RUNE)) return 0xfffd;
  const r = Number(v);
  return r >= 0xd800 && r <= 0xdfff ? 0xfffd : r;
}

// The # flag on a float: keep the decimal point and, for %g, the trailing zeros (format.go).
function sharpFloat(numIn: string, verb: string, prec: number): string {
  let num = numIn;
  let digits = 0;
  if (verb === 'v' || verb === 'g' || verb === 'G' || verb === 'x') digits = prec === -1 ? 6 : prec;
  let tail = '';
  let hasPoint = false;
  let sawNonzero = false;
  for (let i = 1; i < num.length; i++) {
    const c = num[i] as string;
    if (c === '.') hasPoint = true;
    else if (c === 'p' || c === 'P' || ((c === 'e' || c === 'E') && verb !== 'x' && verb !== 'X')) {
      tail = num.slice(i);
      num = num.slice(0, i);
      break;
    } else {
      if (c !== '0') sawNonzero = true;
      if (sawNonzero) digits--;
    }
  }
  if (!hasPoint) {
    if (num.length === 2 && num[1] === '0') digits--;
    num += '.';
  }
  if (digits > 0) num += '0'.repeat(digits);
  return num + tail;
}
