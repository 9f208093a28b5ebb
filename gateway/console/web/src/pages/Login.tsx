import { useState } from 'preact/hooks'
import { auth, type Session } from '../api.ts'
import { useI18n, type Key } from '../i18n.ts'
import { useSubmit } from '../failure.ts'
import { ErrorText } from '../components/ErrorText.tsx'
import { SubmitButton } from '../components/Field.tsx'

export function Login({ notice, onLogin }: { notice: Key | null; onLogin: (s: Session) => void }) {
  const { t } = useI18n()
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const { busy, error, run } = useSubmit(t, (e) =>
    e.status === 401
      ? t('login.wrong')
      : e.status === 429
        ? t('login.limited', { seconds: e.retryAfter ?? 60 })
        : e.status === 404
          ? t('login.unavailable')
          : undefined,
  )

  const submit = async (ev: Event) => {
    ev.preventDefault()
    if (!(await run(async () => onLogin(await auth.login(username, password))))) setPassword('')
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
        <ErrorText message={error} />
        <SubmitButton busy={busy} busyText={t('login.busy')} text={t('login.submit')} />
      </form>
    </section>
  )
}
