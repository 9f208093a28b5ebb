import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { ApiError } from '../api.ts'
import { loadConfig, saveConfig, type CameraConfig, type Point, type Zone } from '../cameras.ts'
import { useI18n } from '../i18n.ts'
import { Snapshot } from './CameraView.tsx'
import { Field, SelectField, SubmitButton } from './Field.tsx'

// The zone editor (docs/console.md, "Cameras"): polygons drawn with the mouse on the snapshot, or
// typed as numbers, in the normalised frame coordinates of docs/vision.md (0..1, x right, y down),
// saved with tiling and the dry reference by PUT /cameras/:id/config. The gateway checks
// everything again; its 400 message is shown as it comes.

const ZONE_ID = /^[a-z0-9][a-z0-9_-]{0,31}$/
const TILINGS = ['auto', 'on', 'off'] as const
type Tiling = (typeof TILINGS)[number]
const ZONE_KINDS: ReadonlyArray<Zone['kind']> = ['count', 'flood']
const AXES = [0, 1] as const

const round = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000
const pointsAttr = (ps: Point[]) => ps.map(([x, y]) => `${x},${y}`).join(' ')

export function ZoneEditor({ id, name, ts, side }: { id: string; name: string; ts: string | undefined; side: ComponentChildren }) {
  const { t } = useI18n()
  const [zones, setZones] = useState<Zone[]>([])
  const [tilingRest, setTilingRest] = useState<CameraConfig['tiling']>(undefined)
  const [tiling, setTiling] = useState<Tiling>('auto')
  const [dry, setDry] = useState('')
  const [points, setPoints] = useState<Point[]>([])
  const [zoneId, setZoneId] = useState('')
  const [kind, setKind] = useState<Zone['kind']>('count')
  const [direction, setDirection] = useState('')
  const [capacity, setCapacity] = useState('')
  const [problem, setProblem] = useState<string | null>(null)
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null)
  const [busy, setBusy] = useState(false)
  // Disabled until the stored configuration is in, so nothing typed meanwhile is overwritten.
  const [ready, setReady] = useState(false)

  useEffect(() => {
    loadConfig(id).then(
      ({ config }) => {
        setZones(config.zones ?? [])
        setTilingRest(config.tiling)
        const e = config.tiling?.enabled
        setTiling(e === true ? 'on' : e === false ? 'off' : 'auto')
        setDry(config.dryReference ?? '')
        setReady(true)
      },
      (err: Error) => setStatus({ ok: false, text: t('error.server', { message: err.message }) }),
    )
  }, [id])

  const at = (ev: MouseEvent): Point => {
    const r = (ev.currentTarget as SVGSVGElement).getBoundingClientRect()
    return [round((ev.clientX - r.left) / r.width), round((ev.clientY - r.top) / r.height)]
  }
  const setPoint = (i: number, axis: 0 | 1, v: number) =>
    setPoints((ps) => ps.map((p, j) => (j === i ? (axis === 0 ? [round(v), p[1]] : [p[0], round(v)]) : p)))

  const close = () => {
    if (points.length < 3) return setProblem(t('editor.needPoints'))
    if (!ZONE_ID.test(zoneId) || zones.some((z) => z.id === zoneId)) return setProblem(t('editor.needId'))
    const cap = Number(capacity)
    const zone: Zone =
      kind === 'flood'
        ? { id: zoneId, kind, polygon: points }
        : {
            id: zoneId,
            kind,
            polygon: points,
            ...(direction.trim() ? { direction: direction.trim() } : {}),
            ...(capacity && cap > 0 ? { capacityPcu: cap } : {}),
          }
    setZones((zs) => [...zs, zone])
    setPoints([])
    setZoneId('')
    setDirection('')
    setCapacity('')
    setProblem(null)
  }

  // A double-click ends the polygon: its second click added a point twice, dropped above; the
  // zone is closed once that state is in.
  const [closeAsked, setCloseAsked] = useState(0)
  useEffect(() => {
    if (closeAsked) close()
  }, [closeAsked])

  const save = async (ev: Event) => {
    ev.preventDefault()
    setBusy(true)
    setStatus(null)
    const config: CameraConfig = {
      ...(zones.length ? { zones } : {}),
      tiling: { ...tilingRest, enabled: tiling === 'auto' ? 'auto' : tiling === 'on' },
      ...(dry.trim() ? { dryReference: dry.trim() } : {}),
    }
    try {
      await saveConfig(id, config)
      setStatus({ ok: true, text: t('editor.saved') })
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, 'network')
      setStatus({ ok: false, text: e.status === 0 ? t('error.network') : t('editor.refused', { message: e.message }) })
    } finally {
      setBusy(false)
    }
  }

  return (
    <>
      <div class="camera-top">
        <Snapshot id={id} name={name} ts={ts}>
          <svg
            class="zone-svg"
            viewBox="0 0 1 1"
            preserveAspectRatio="none"
            role="img"
            aria-label={t('editor.canvas', { count: points.length })}
            onClick={(e) => ready && setPoints((ps) => [...ps, at(e)])}
            onDblClick={() => {
              setPoints((ps) => ps.slice(0, -1))
              setCloseAsked((n) => n + 1)
            }}
          >
            {zones.map((z) => (
              <polygon key={z.id} class={`zone-shape zone-${z.kind}`} points={pointsAttr(z.polygon)} />
            ))}
            {points.length > 0 && <polyline class="zone-draft" points={pointsAttr(points.length > 2 ? [...points, points[0]!] : points)} />}
            {points.map(([x, y], i) => (
              <circle key={i} class="zone-dot" cx={x} cy={y} r={0.007} />
            ))}
          </svg>
        </Snapshot>
        <div class="camera-side">{side}</div>
      </div>
      <form class="editor" onSubmit={save} aria-labelledby="editor-heading">
        <h2 id="editor-heading">{t('editor.heading')}</h2>
        <p class="muted">{t('editor.help')}</p>
        <fieldset class="plain" disabled={!ready}>
          <fieldset class="draft">
            <legend>{t('editor.newZone')}</legend>
            <div class="editor-fields">
              <Field id="zone-id" label={t('editor.id')}>
                <input
                  id="zone-id"
                  value={zoneId}
                  maxLength={32}
                  autocomplete="off"
                  onInput={(e) => setZoneId(e.currentTarget.value.trim())}
                />
              </Field>
              <SelectField
                id="zone-kind"
                label={t('editor.kind')}
                value={kind}
                options={ZONE_KINDS.map((k) => ({ value: k, label: t(`editor.kind.${k}`) }))}
                onChange={(v) => setKind(v as Zone['kind'])}
              />
              {kind === 'count' && (
                <>
                  <Field id="zone-direction" label={t('editor.direction')}>
                    <input id="zone-direction" value={direction} maxLength={64} onInput={(e) => setDirection(e.currentTarget.value)} />
                  </Field>
                  <Field id="zone-capacity" label={t('editor.capacity')}>
                    <input
                      id="zone-capacity"
                      type="number"
                      min={0}
                      step="any"
                      inputMode="decimal"
                      value={capacity}
                      onInput={(e) => setCapacity(e.currentTarget.value)}
                    />
                  </Field>
                </>
              )}
            </div>
            <p class="points-head">{t('editor.points')}</p>
            <ol class="points">
              {points.map((p, i) => (
                <li key={i}>
                  {AXES.map((axis) => (
                    <input
                      key={axis}
                      type="number"
                      min={0}
                      max={1}
                      step={0.001}
                      value={p[axis]}
                      aria-label={t(axis === 0 ? 'editor.pointX' : 'editor.pointY', { n: i + 1 })}
                      onChange={(e) => setPoint(i, axis, Number(e.currentTarget.value))}
                    />
                  ))}
                  <button type="button" class="secondary" onClick={() => setPoints((ps) => ps.filter((_, j) => j !== i))}>
                    {t('editor.removePoint', { n: i + 1 })}
                  </button>
                </li>
              ))}
            </ol>
            <div class="editor-actions">
              <button type="button" class="secondary" onClick={() => setPoints((ps) => [...ps, [0.5, 0.5]])}>
                {t('editor.addPoint')}
              </button>
              <button
                type="button"
                class="secondary"
                onClick={() => {
                  setPoints([])
                  setProblem(null)
                }}
              >
                {t('editor.clear')}
              </button>
              <button type="button" onClick={close}>
                {t('editor.close')}
              </button>
            </div>
            {problem && (
              <p class="error" role="alert">
                {problem}
              </p>
            )}
          </fieldset>
          <h3>{t('editor.zones')}</h3>
          {zones.length === 0 && <p class="muted">{t('editor.noZones')}</p>}
          <ul class="zone-list">
            {zones.map((z) => (
              <li key={z.id}>
                <span>{t('editor.zoneLine', { id: z.id, kind: t(`editor.kind.${z.kind}`), count: z.polygon.length })}</span>
                <button type="button" class="secondary" onClick={() => setZones((zs) => zs.filter((x) => x.id !== z.id))}>
                  {t('editor.delete', { id: z.id })}
                </button>
              </li>
            ))}
          </ul>
          <div class="editor-fields">
            <SelectField
              id="zone-tiling"
              label={t('editor.tiling')}
              value={tiling}
              options={TILINGS.map((v) => ({ value: v, label: t(`editor.tiling.${v}`) }))}
              onChange={(v) => setTiling(v as Tiling)}
            />
            <Field id="zone-dry" label={t('editor.dry')} class="wide">
              <input id="zone-dry" value={dry} maxLength={4096} autocomplete="off" onInput={(e) => setDry(e.currentTarget.value)} />
            </Field>
          </div>
        </fieldset>
        {status && (
          <p class={status.ok ? 'notice' : 'error'} role={status.ok ? 'status' : 'alert'}>
            {status.text}
          </p>
        )}
        <div class="editor-actions">
          <SubmitButton busy={busy} disabled={!ready} busyText={t('editor.saving')} text={t('editor.save')} />
        </div>
      </form>
    </>
  )
}
