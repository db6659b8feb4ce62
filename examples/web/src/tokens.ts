// The tokens of the signed-in user, shared by every tab of the app so that
// all tabs use one session. They live in IndexedDB, whose transactions every
// tab sees in order: localStorage is not enough, as Chromium passes its
// writes to other tabs asynchronously, so a tab could read a refresh token
// that another tab has just spent. A BroadcastChannel tells the other tabs
// when the tokens change; each tab keeps a copy for sending requests.

/** Tokens is what Latchkey's login, register and refreshToken return. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
}

const channel = new BroadcastChannel('latchkey.tokens');
let copy: Tokens | null = null;
let opened: Promise<IDBDatabase> | undefined;

function open(): Promise<IDBDatabase> {
  opened ??= new Promise((resolve, reject) => {
    const req = indexedDB.open('latchkey', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('tokens');
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return opened;
}

// transact runs one request in a transaction and resolves once it is
// committed, so that every tab's later transactions see it.
async function transact<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction('tokens', mode);
    const req = fn(tx.objectStore('tokens'));
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = tx.onabort = () => reject(tx.error);
  });
}

/** tokens returns this tab's copy of the tokens, or null when signed out. */
export function tokens(): Tokens | null {
  return copy;
}

/** reload reads the shared tokens into this tab's copy and returns them. */
export async function reload(): Promise<Tokens | null> {
  const t = await transact('readonly', (s) => s.get('current'));
  copy = t && typeof t.accessToken === 'string' && typeof t.refreshToken === 'string' ? t : null;
  return copy;
}

/** save stores tokens for every tab, or forgets them when given null. */
export async function save(t: Tokens | null): Promise<void> {
  const stored = t && { accessToken: t.accessToken, refreshToken: t.refreshToken, expiresAt: t.expiresAt };
  if (stored) {
    await transact('readwrite', (s) => s.put(stored, 'current'));
  } else {
    await transact('readwrite', (s) => s.delete('current'));
  }
  copy = stored;
  channel.postMessage('changed');
}

/** onOtherTab calls fn when another tab signs in, refreshes or signs out. */
export function onOtherTab(fn: () => void): void {
  channel.onmessage = () => void reload().then(fn);
}
