import type { ComponentChildren } from 'preact'
import { navigate } from '../router.ts'

/**
 * A link to one of the console's own routes: a real href (open in a new tab, copy the address),
 * followed in place by the client router on a plain click.
 */
export function AppLink({ href, class: cls, children }: { href: string; class?: string; children: ComponentChildren }) {
  return (
    <a
      class={cls}
      href={href}
      onClick={(e) => {
        e.preventDefault()
        navigate(href)
      }}
    >
      {children}
    </a>
  )
}
