import { useCallback, useEffect, useMemo, useState } from 'preact/hooks'
import { ApiError, auth, setCsrfToken, setUnauthorizedHandler, type Session } from './api.ts'
import { I18nContext, initialLang, storeLang, translator, useI18n, type I18n, type Key, type Lang } from './i18n.ts'
import { Header } from './components/Header.tsx'
import { Board } from './pages/Board.tsx'
import { CameraPage } from './pages/CameraPage.tsx'
import { Cameras } from './pages/Cameras.tsx'
import { AlertPage } from './pages/AlertPage.tsx'
import { Login } from './pages/Login.tsx'
import { Devices } from './pages/Devices.tsx'
import { Notifications } from './pages/Notifications.tsx'
import { useLiveAlerts } from './live.ts'
import { navigate, useRoute, type Route } from './router.ts'
import { StationsPage } from './pages/StationsPage.tsx'
import { WebhooksPage } from './pages/WebhooksPage.tsx'
import { StationPage } from './pages/StationPage.tsx'
import { ReportsPage } from './pages/ReportsPage.tsx'

export function App() {
  const [lang, setLangState] = useState<Lang>(initialLang)
  const setLang = useCallback((l: Lang) => {
    storeLang(l)
    setLangState(l)
  }, [])
  useEffect(() => storeLang(lang), [])
  const i18n = useMemo<I18n>(() => ({ lang, t: translator(lang), setLang }), [lang, setLang])
  useEffect(() => {
    document.title = i18n.t('app.title')
  }, [i18n])

  // undefined: still asking /auth/me; null: logged out.
  const [session, setSession] = useState<Session | null | undefined>(undefined)
  const [notice, setNotice] = useState<Key | null>(null)
  const start = useCallback((s: Session | null) => {
    setCsrfToken(s?.csrfToken ?? '')
    setSession(s)
  }, [])
  useEffect(() => {
    setUnauthorizedHandler(() => {
      start(null)
      setNotice('login.expired')
    })
    auth.me().then(start, (err: unknown) => {
      // 404: a gateway without account login; the form says so when used.
      if (err instanceof ApiError && err.status === 404) setNotice('login.unavailable')
      start(null)
    })
  }, [start])
  const logout = useCallback(() => {
    auth
      .logout()
      .catch(() => {})
      .finally(() => {
        setNotice(null)
        start(null)
      })
  }, [start])

  return (
    <I18nContext.Provider value={i18n}>
      <a class="skip" href="#main">
        {i18n.t('app.skip')}
      </a>
      <Header user={session?.user ?? null} onLogout={logout} />
      <main id="main" tabIndex={-1}>
        {session === undefined ? null : session === null ? (
          <Login
            notice={notice}
            onLogin={(s) => {
              setNotice(null)
              start(s)
            }}
          />
        ) : (
          <Console session={session} />
        )}
      </main>
    </I18nContext.Provider>
  )
}

function Console({ session }: { session: Session }) {
  const live = useLiveAlerts()
  const route = useRoute()
  const canAct = session.user.role === 'officer' || session.user.role === 'admin'
  // Technicians and admins register devices and draw camera zones (docs/api.md, roles).
  const canManage = session.user.role === 'technician' || session.user.role === 'admin'
  return (
    <>
      <Nav route={route} canNotify={canAct} admin={session.user.role === 'admin'} />
      {route.page === 'alert' ? (
        <AlertPage id={route.id} live={live} canAct={canAct} />
      ) : route.page === 'devices' ? (
        <Devices canManage={canManage} />
      ) : route.page === 'stations' ? (
        <StationsPage />
      ) : route.page === 'station' ? (
        <StationPage id={route.id} />
      ) : route.page === 'cameras' ? (
        <Cameras />
      ) : route.page === 'camera' ? (
        <CameraPage id={route.id} canEdit={canManage} />
      ) : route.page === 'notifications' && canAct ? (
        <Notifications />
      ) : route.page === 'reports' ? (
        <ReportsPage />
      ) : route.page === 'webhooks' ? (
        <WebhooksPage />
      ) : (
        <Board live={live} canAct={canAct} />
      )}
    </>
  )
}

/**
 * The console's pages; every role may read each of them (docs/api.md, roles), but Notifications,
 * which holds contacts' personal data, is for officers and admins, and Webhooks for admins only.
 */
function Nav({ route, canNotify, admin }: { route: Route; canNotify: boolean; admin: boolean }) {
  const { t } = useI18n()
  const links: Array<{ href: string; label: Key; current: boolean }> = [
    { href: '/', label: 'nav.board', current: route.page === 'board' || route.page === 'alert' },
    { href: '/stations', label: 'nav.stations', current: route.page === 'stations' || route.page === 'station' },
    { href: '/cameras', label: 'nav.cameras', current: route.page === 'cameras' || route.page === 'camera' },
    { href: '/devices', label: 'nav.devices', current: route.page === 'devices' },
    ...(canNotify ? [{ href: '/notifications', label: 'nav.notifications' as Key, current: route.page === 'notifications' }] : []),
    { href: '/reports', label: 'nav.reports', current: route.page === 'reports' },
    // Webhooks are an admin matter (/api/v1/webhooks is admin only).
    ...(admin ? [{ href: '/webhooks', label: 'nav.webhooks' as Key, current: route.page === 'webhooks' }] : []),
  ]
  return (
    <nav class="pages" aria-label={t('nav.label')}>
      {links.map((l) => (
        <a
          key={l.href}
          href={l.href}
          aria-current={l.current ? 'page' : undefined}
          onClick={(e) => {
            e.preventDefault()
            navigate(l.href)
          }}
        >
          {t(l.label)}
        </a>
      ))}
    </nav>
  )
}
