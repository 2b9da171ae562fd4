// The shell: header with the navigation a user's role allows, the routed page, footer, notice, dialogs.
import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ConfirmHost, ManualCopyHost, Toasts } from './components/feedback';
import { Html, RichContent } from './components/content';
import { Modal } from './components/modal';
import { get, setUnauthorizedHandler } from './lib/api';
import { lang, setLang, t } from './lib/i18n';
import { Link, match, navigate, useLocation } from './lib/router';
import { forget, logout, remember, ROLE_ADMIN, ROLE_USER, user, type SessionUser } from './lib/session';
import { loadStatus, status } from './lib/status';
import { useStore } from './lib/store';
import { applyTheme, theme } from './lib/theme';
import { routes, type PageProps } from './routes';

const PUBLIC_PATHS = ['/', '/about', '/pricing', '/login', '/register', '/reset', '/user/reset'];

interface NavItem {
  href: string;
  label: string;
  role: number;
  when?: () => boolean;
}

function navItems(): NavItem[] {
  return [
    { href: '/', label: t('Home'), role: 0 },
    { href: '/dashboard', label: t('Dashboard'), role: ROLE_USER },
    { href: '/channel', label: t('Channels'), role: ROLE_ADMIN },
    { href: '/token', label: t('Tokens'), role: ROLE_USER },
    { href: '/redemption', label: t('Redemption'), role: ROLE_ADMIN },
    { href: '/topup', label: t('Top up'), role: ROLE_USER },
    { href: '/user', label: t('Users'), role: ROLE_ADMIN },
    { href: '/log', label: t('Logs'), role: ROLE_USER },
    { href: '/setting', label: t('Settings'), role: ROLE_USER },
    { href: '/chat', label: t('Chat'), role: ROLE_USER, when: () => !!status.get().chat_link },
    { href: '/pricing', label: t('Pricing'), role: 0, when: () => !!user.get() || status.get().public_pricing },
    { href: '/about', label: t('About'), role: 0 },
  ];
}

function active(href: string, path: string): boolean {
  return href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`);
}

function Header({ me, path }: { me: SessionUser | null; path: string }) {
  const s = useStore(status);
  const mode = useStore(theme);
  const current = useStore(lang);
  const [open, setOpen] = useState(false);
  const items = navItems().filter((item) => (me?.role ?? 0) >= item.role && (!item.when || item.when()));
  const signOut = async () => {
    await logout().catch(() => undefined);
    navigate('/login');
  };
  return (
    <header class="topbar">
      <div class="topbar-inner">
        <Link href="/" class="brand">
          <img src={s.logo || '/favicon.svg'} alt="" class="brand-logo" />
          <span data-testid="system-name">{s.system_name || 'One API'}</span>
        </Link>
        <button class="icon-btn nav-toggle" aria-label={t('Menu')} onClick={() => setOpen(!open)}>☰</button>
        <nav class={open ? 'nav open' : 'nav'} onClick={() => setOpen(false)}>
          {items.map((item) => (
            <Link key={item.href} href={item.href} class={active(item.href, path) ? 'nav-link active' : 'nav-link'}>{item.label}</Link>
          ))}
        </nav>
        <div class="topbar-tools">
          <button class="icon-btn" title={t('Language')} data-testid="lang-toggle" onClick={() => setLang(current === 'zh' ? 'en' : 'zh')}>
            {current === 'zh' ? 'EN' : '中文'}
          </button>
          <button class="icon-btn" title={t('Theme')} data-testid="theme-toggle" onClick={() => applyTheme(mode === 'dark' ? 'light' : 'dark', true)}>
            {mode === 'dark' ? '☀' : '☾'}
          </button>
          {me ? (
            <>
              <span class="muted user-name" data-testid="current-user">{me.display_name || me.username}</span>
              <button class="btn btn-small" onClick={signOut}>{t('Log out')}</button>
            </>
          ) : (
            <>
              <Link href="/login" class="btn btn-small btn-primary">{t('Log in')}</Link>
              <Link href="/register" class="btn btn-small">{t('Register')}</Link>
            </>
          )}
        </div>
      </div>
    </header>
  );
}

function Footer() {
  const s = useStore(status);
  if (s.footer_html) return <footer class="footer"><Html html={s.footer_html} class="footer-custom" /></footer>;
  return (
    <footer class="footer">
      <span>{s.system_name || 'One API'} {s.version && `v${s.version}`}</span>
      <span class="muted"> · {t('an LLM API gateway compatible with One API')}</span>
    </footer>
  );
}

const NOTICE_KEY = 'notice_seen';   // also written by the settings page when root saves the notice

/** The announcement, shown once per change of its text. */
function Notice() {
  const [text, setText] = useState('');
  useEffect(() => {
    get<string>('/api/notice')
      .then((notice) => notice && notice !== localStorage.getItem(NOTICE_KEY) && setText(notice))
      .catch(() => undefined);
  }, []);
  if (!text) return null;
  const close = () => {
    localStorage.setItem(NOTICE_KEY, text);
    setText('');
  };
  return (
    <Modal title={t('Notice')} onClose={close} wide footer={<button class="btn btn-primary" onClick={close}>{t('Got it')}</button>}>
      <div data-testid="notice"><RichContent text={text} /></div>
    </Modal>
  );
}

function Guard({ role, me, children }: { role: number; me: SessionUser | null; children: preact.ComponentChildren }) {
  const { path } = useLocation();
  useEffect(() => {
    if (!me && role > 0) navigate(`/login?from=${encodeURIComponent(path)}`, true);
  }, [me, role, path]);
  if (role > 0 && !me) return null;
  if ((me?.role ?? 0) < role) {
    return <div class="card"><h2>{t('Forbidden')}</h2><p>{t('Your account may not open this page.')}</p></div>;
  }
  return <>{children}</>;
}

function NotFound() {
  return (
    <div class="card">
      <h2>{t('Page not found')}</h2>
      <p><Link href="/">{t('Back to the home page')}</Link></p>
    </div>
  );
}

export function App() {
  const loc = useLocation();
  const me = useStore(user);
  const s = useStore(status);
  useStore(lang);
  useEffect(() => {
    applyTheme(theme.get());
    document.documentElement.lang = lang.get() === 'zh' ? 'zh-CN' : 'en';
    setUnauthorizedHandler(() => {
      const wasIn = user.get() !== null;
      forget();
      if (wasIn && !PUBLIC_PATHS.includes(window.location.pathname)) navigate('/login?expired=1');
    });
    loadStatus().catch(() => undefined);
    if (user.get()) get<SessionUser>('/api/user/self').then(remember).catch(() => undefined);
  }, []);
  useEffect(() => {
    document.title = s.system_name || 'One API';
  }, [s.system_name]);

  let Page: ComponentType<PageProps> = NotFound;
  let params: Record<string, string> = {};
  let role = 0;
  for (const route of routes) {
    const found = match(route.path, loc.path);
    if (found) {
      Page = route.page;
      params = found;
      role = route.role ?? 0;
      break;
    }
  }
  const wide = loc.path === '/' || loc.path === '/about' || loc.path === '/chat';
  return (
    <div class="shell">
      <Header me={me} path={loc.path} />
      <main class={wide ? 'main main-wide' : 'main'}>
        <Guard role={role} me={me}>
          <Page key={`${loc.path}`} params={params} query={loc.query} />
        </Guard>
      </main>
      <Footer />
      <Notice />
      <ConfirmHost />
      <ManualCopyHost />
      <Toasts />
    </div>
  );
}

