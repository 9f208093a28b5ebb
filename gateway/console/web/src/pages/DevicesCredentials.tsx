import { useEffect, useMemo } from 'preact/hooks'
import { edgeConfig, edgeConfigFileName, qrText, type Registered } from '../devices.ts'
import { useI18n } from '../i18n.ts'
import { QrCode } from './DevicesQr.tsx'

/**
 * The one time a device's secret is shown (registration or rotate-secret): the values, a QR code
 * for the edge agent's set-up and the edge config file to download. Closing it forgets them.
 */
export function CredentialsPanel({ result, rotated, onClose }: { result: Registered; rotated: boolean; onClose: () => void }) {
  const { t } = useI18n()
  const { device, credentials } = result
  const file = useMemo(() => edgeConfig(device, credentials), [device, credentials])
  const url = useMemo(() => URL.createObjectURL(new Blob([file], { type: 'application/yaml' })), [file])
  useEffect(() => () => URL.revokeObjectURL(url), [url])
  return (
    <section class="credentials" aria-labelledby="credentials-heading" tabIndex={-1}>
      <h2 id="credentials-heading">
        {t(rotated ? 'devices.cred.rotatedHeading' : 'devices.cred.heading', { name: device.name, id: device.id })}
      </h2>
      <p class="notice" role="status">
        {t('devices.cred.once')}
      </p>
      <div class="credentials-body">
        <dl class="cred-values">
          <dt>{t('devices.cred.mqttUrl')}</dt>
          <dd>
            <code data-cred="mqtt_url">{credentials.mqtt_url}</code>
          </dd>
          <dt>{t('devices.cred.username')}</dt>
          <dd>
            <code data-cred="username">{credentials.username}</code>
          </dd>
          <dt>{t('devices.cred.password')}</dt>
          <dd>
            <code data-cred="password">{credentials.password}</code>
          </dd>
        </dl>
        <figure class="qr-figure">
          <QrCode text={qrText(credentials)} label={t('devices.cred.qrLabel', { id: device.id })} />
          <figcaption>{t('devices.cred.qrCaption')}</figcaption>
        </figure>
      </div>
      <div class="cred-actions">
        <a class="button" href={url} download={edgeConfigFileName(device.id)}>
          {t('devices.cred.download')}
        </a>
        <button type="button" class="secondary" onClick={onClose}>
          {t('devices.cred.done')}
        </button>
      </div>
    </section>
  )
}
