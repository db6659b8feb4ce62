// The tokens of the signed-in user, kept in localStorage so that every tab
// of the app shares one session: a tab that refreshes stores the new pair
// where the others read it, and a logout in one tab signs all of them out.

const key = 'latchkey.tokens';

/** Tokens is what Latchkey's login, register and refreshToken return. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
}

/** load returns the stored tokens, or null when signed out. */
export function load(): Tokens | null {
  try {
    const t = JSON.parse(localStorage.getItem(key) ?? 'null');
    return t && typeof t.accessToken === 'string' && typeof t.refreshToken === 'string' ? t : null;
  } catch {
    return null;
  }
}

/** save stores tokens, or forgets them when given null. */
export function save(t: Tokens | null): void {
  if (t) {
    localStorage.setItem(key, JSON.stringify({ accessToken: t.accessToken, refreshToken: t.refreshToken, expiresAt: t.expiresAt }));
  } else {
    localStorage.removeItem(key);
  }
}

/** onOtherTab calls fn when another tab signs in, refreshes or signs out. */
export function onOtherTab(fn: () => void): void {
  window.addEventListener('storage', (e) => {
    if (e.key === key || e.key === null) {
      fn();
    }
  });
}
