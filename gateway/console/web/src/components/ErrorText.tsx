/** A failure said under what failed, announced at once (role=alert); nothing while there is none. */
export function ErrorText({ message }: { message: string | null | undefined | false }) {
  if (!message) return null
  return (
    <p class="error" role="alert">
      {message}
    </p>
  )
}
