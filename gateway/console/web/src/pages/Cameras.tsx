import { useEffect, useState } from 'preact/hooks'
import { loadCameras, useCameraFeed, type Camera } from '../cameras.ts'
import { Snapshot, ZoneCounts } from '../components/CameraView.tsx'
import { useI18n } from '../i18n.ts'
import { AppLink } from '../components/AppLink.tsx'
import { LoadState } from '../components/LoadState.tsx'

/** The camera grid: each camera's latest analysed frame with its per-zone counts, kept current. */
export function Cameras() {
  const { t } = useI18n()
  const [cameras, setCameras] = useState<Camera[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    loadCameras().then(setCameras, (err: Error) => setError(err.message))
  }, [])
  return (
    <section class="cameras" aria-labelledby="cameras-heading">
      <div class="board-head">
        <h1 id="cameras-heading">{t('cameras.heading')}</h1>
        <p class="muted">{t('cameras.refresh')}</p>
      </div>
      <LoadState
        items={cameras}
        error={error && t('error.server', { message: error })}
        loading={t('cameras.loading')}
        empty={t('cameras.empty')}
      />
      <ul class="camera-grid">
        {cameras?.map((c) => (
          <CameraCard key={c.id} camera={c} />
        ))}
      </ul>
    </section>
  )
}

function CameraCard({ camera }: { camera: Camera }) {
  const { t } = useI18n()
  const feed = useCameraFeed(camera.id, 'latest')
  const name = camera.name ?? camera.id
  const href = `/cameras/${camera.id}`
  return (
    <li class="camera-card" data-camera={camera.id}>
      <h2>
        <AppLink href={href}>{name}</AppLink>
      </h2>
      <p class="muted">{[camera.id, camera.district].filter(Boolean).join(' · ')}</p>
      <Snapshot id={camera.id} name={name} ts={feed.latest?.ts} />
      {feed.latest ? <ZoneCounts rec={feed.latest} /> : feed.loaded && <p class="muted">{t('camera.noFrame')}</p>}
      {feed.error && <p class="error">{t('error.server', { message: feed.error })}</p>}
    </li>
  )
}
