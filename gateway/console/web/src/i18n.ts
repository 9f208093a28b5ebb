import { createContext } from 'preact'
import { useContext } from 'preact/hooks'
import { DICTIONARIES, type Key, type Lang } from './strings.ts'

export type { Key, Lang } from './strings.ts'

const STORAGE_KEY = 'iocgw.lang'

export function initialLang(): Lang {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'vi'
  } catch {
    return 'vi'
  }
}

export function storeLang(lang: Lang): void {
  try {
    localStorage.setItem(STORAGE_KEY, lang)
  } catch {
    // Private mode or storage disabled: the choice lasts for this page only.
  }
  document.documentElement.lang = lang
}

export type Translate = (key: Key, params?: Record<string, string | number>) => string

export function translator(lang: Lang): Translate {
  const dict = DICTIONARIES[lang]
  return (key, params) => {
    const text = dict[key]
    return params ? text.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m)) : text
  }
}

// One formatter per language, made once: building an Intl formatter costs far more than using
// it, and the board formats a time and two numbers for each of its hundreds of alerts on every
// change (bench/README.md, "console").
const timeFormats = new Map<Lang, Intl.DateTimeFormat>()
const numberFormats = new Map<Lang, Intl.NumberFormat>()
const locale = (lang: Lang) => (lang === 'vi' ? 'vi-VN' : 'en-GB')

/** Date and time in the operations centre's zone, whatever the device's zone is. */
export function formatTime(lang: Lang, iso: string): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  let f = timeFormats.get(lang)
  if (!f) {
    f = new Intl.DateTimeFormat(locale(lang), {
      timeZone: 'Asia/Ho_Chi_Minh',
      day: '2-digit',
      month: '2-digit',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
    timeFormats.set(lang, f)
  }
  return f.format(d)
}

/** Decimal comma in Vietnamese (2,15 m), point in English. */
export function formatNumber(lang: Lang, n: number): string {
  let f = numberFormats.get(lang)
  if (!f) {
    f = new Intl.NumberFormat(locale(lang), { maximumFractionDigits: 2 })
    numberFormats.set(lang, f)
  }
  return f.format(n)
}

export interface I18n {
  lang: Lang
  t: Translate
  setLang(lang: Lang): void
}

export const I18nContext = createContext<I18n>({ lang: 'vi', t: translator('vi'), setLang: () => {} })
export const useI18n = (): I18n => useContext(I18nContext)
