import { useState } from 'preact/hooks'
import { ApiError, auth, type Session } from '../api.ts'
import { useI18n, type Key } from '../i18n.ts'

export function Login({ notice, onLogin }: { notice: Key | null; onLogin: (s: Session) => void }) {
  const { t } = useI18n()
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  const submit = async (ev: Event) => {
    ev.preventDefault()
    setBusy(true)
    setError(null)
    try {
      onLogin(await auth.login(username, password))
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, 'network')
      setError(
        e.status === 401
          ? t('login.wrong')
          : e.status === 429
            ? t('login.limited', { seconds: e.retryAfter ?? 60 })
            : e.status === 404
              ? t('login.unavailable')
              : e.status === 0
                ? t('error.network')
                : t('error.server', { message: e.message }),
      )
      setPassword('')
    } finally {
      setBusy(false)
    }
  }

  return (
    <section class="login" aria-labelledby="login-heading">
      <h1 id="login-heading">{t('login.heading')}</h1>
      <p class="muted">{t('login.intro')}</p>
      {notice && !error && (
        <p class="notice" role="status">
          {t(notice)}
        </p>
      )}
      <form onSubmit={submit} noValidate={false}>
        <label for="username">{t('login.username')}</label>
        <input
          id="username"
          name="username"
          autocomplete="username"
          required
          autoFocus
          value={username}
          onInput={(e) => setUsername(e.currentTarget.value)}
        />
        <label for="password">{t('login.password')}</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? t('login.busy') : t('login.submit')}
        </button>
      </form>
    </section>
  )
}
