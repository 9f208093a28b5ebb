// GSM 03.38 default alphabet (3GPP TS 23.038): one SMS holds 160 of these, 153 per part when
// split. Any Vietnamese accent forces UCS-2 (70 per SMS), so SMS text is sent unaccented.

const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà'
const EXTENDED = '^{}\\[~]|€\f'
const basic = new Set(BASIC)
const extended = new Set(EXTENDED)

/** Vietnamese to unaccented ASCII: tone and vowel marks dropped, đ/Đ to d/D. */
export function unaccent(text: string): string {
  return text
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .normalize('NFC')
}

/** Unaccented text restricted to the GSM-7 basic set (anything else becomes a space or '?'). */
export function toGsm7(text: string): string {
  let out = ''
  for (const ch of unaccent(text)) {
    if (basic.has(ch)) out += ch
    else if (/\s/.test(ch)) out += ' '
    else out += '?'
  }
  return out.replace(/ {2,}/g, ' ')
}

/** Septets the text takes in GSM-7, or undefined when a character is outside GSM-7. */
export function gsm7Length(text: string): number | undefined {
  let n = 0
  for (const ch of text) {
    if (basic.has(ch)) n += 1
    else if (extended.has(ch)) n += 2
    else return undefined
  }
  return n
}

export const SMS_MAX = 160
