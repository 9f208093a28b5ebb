import type { User } from '../api.ts'
import { useI18n } from '../i18n.ts'

export function Header({ user, onLogout }: { user: User | null; onLogout: () => void }) {
  const { t, lang, setLang } = useI18n()
  const other = lang === 'vi' ? 'en' : 'vi'
  return (
    <header class="top">
      <p class="brand">{t('app.title')}</p>
      <div class="top-actions">
        {/* The name starts with the visible word (WCAG 2.5.3), then says what it does. */}
        <button type="button" class="link" aria-label={`${t('lang.switch')}: ${t('lang.switchName')}`} onClick={() => setLang(other)}>
          <span lang={other}>{t('lang.switch')}</span>
        </button>
        {user && (
          <>
            <span class="who">{t('user.signedIn', { name: user.name, role: t(`role.${user.role}`) })}</span>
            <button type="button" class="secondary" onClick={onLogout}>
              {t('user.logout')}
            </button>
          </>
        )}
      </div>
    </header>
  )
}
