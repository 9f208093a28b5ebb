import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'

// The PDF's typeface: Be Vietnam Pro (SIL Open Font License 1.1), designed for Vietnamese, as
// TrueType files shipped by the npm package @expo-google-fonts/be-vietnam-pro, so `npm install`
// brings it and the gateway needs no system font. The PDF embeds the glyphs it uses (a subset
// with a ToUnicode map), so "Thừa Thiên Huế" prints and copies as written on any reader.

const require = createRequire(import.meta.url)

export interface ReportFonts {
  regular: string
  bold: string
}

const FILES = {
  regular: '@expo-google-fonts/be-vietnam-pro/400Regular/BeVietnamPro_400Regular.ttf',
  bold: '@expo-google-fonts/be-vietnam-pro/600SemiBold/BeVietnamPro_600SemiBold.ttf',
} as const

let cached: ReportFonts | undefined

/** Paths of the two TrueType files; throws a sentence naming the package when it is missing. */
export function reportFonts(): ReportFonts {
  if (cached) return cached
  const resolve = (spec: string): string => {
    let path: string | undefined
    try {
      path = require.resolve(spec)
    } catch {
      path = undefined
    }
    if (!path || !existsSync(path)) {
      throw new Error(`the report font ${spec} is missing: run "npm install" (package @expo-google-fonts/be-vietnam-pro)`)
    }
    return path
  }
  cached = { regular: resolve(FILES.regular), bold: resolve(FILES.bold) }
  return cached
}
