// The logged-in user as the login answer gave it (One API keeps it in localStorage too), and roles.
import { get } from './api';
import { createStore } from './store';

export const ROLE_USER = 1;
export const ROLE_ADMIN = 10;
export const ROLE_ROOT = 100;

export interface SessionUser {
  id: number;
  username: string;
  display_name: string;
  role: number;
  status: number;
}

const KEY = 'user';

function saved(): SessionUser | null {
  try {
    const text = localStorage.getItem(KEY);
    return text ? (JSON.parse(text) as SessionUser) : null;
  } catch {
    return null;
  }
}

export const user = createStore<SessionUser | null>(typeof localStorage === 'undefined' ? null : saved());

export function remember(next: SessionUser): void {
  const slim = { id: next.id, username: next.username, display_name: next.display_name, role: next.role, status: next.status };
  localStorage.setItem(KEY, JSON.stringify(slim));
  user.set(slim);
}

export function forget(): void {
  localStorage.removeItem(KEY);
  user.set(null);
}

export async function logout(): Promise<void> {
  try {
    await get('/api/user/logout');
  } finally {
    forget();
  }
}

export const isAdmin = (u: SessionUser | null): boolean => (u?.role ?? 0) >= ROLE_ADMIN;
export const isRoot = (u: SessionUser | null): boolean => (u?.role ?? 0) >= ROLE_ROOT;
