// A short two-tone chime for a new major or critical alert, made with WebAudio so no sound file
// has to be shipped. Browsers start audio only after a user gesture: the context is created (or
// resumed) on the first click or key press, and a chime before that is shown but not heard.

let ctx: AudioContext | null = null

function context(): AudioContext | null {
  if (ctx) return ctx
  const Ctor = window.AudioContext
  if (!Ctor) return null
  ctx = new Ctor()
  return ctx
}

export function unlockAudioOnGesture(): void {
  const unlock = () => {
    const c = context()
    if (c && c.state === 'suspended') void c.resume()
  }
  window.addEventListener('pointerdown', unlock, { capture: true })
  window.addEventListener('keydown', unlock, { capture: true })
}

export function chime(severity: 'major' | 'critical'): void {
  const c = context()
  if (!c) return
  if (c.state === 'suspended') void c.resume()
  const start = c.currentTime + 0.02
  // Critical: three higher tones; major: two. Each 180 ms with a soft attack and release.
  const tones = severity === 'critical' ? [880, 660, 880] : [660, 880]
  tones.forEach((hz, i) => {
    const osc = c.createOscillator()
    const gain = c.createGain()
    const t = start + i * 0.22
    osc.type = 'sine'
    osc.frequency.value = hz
    gain.gain.setValueAtTime(0.0001, t)
    gain.gain.exponentialRampToValueAtTime(0.3, t + 0.02)
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.18)
    osc.connect(gain).connect(c.destination)
    osc.start(t)
    osc.stop(t + 0.2)
  })
}
