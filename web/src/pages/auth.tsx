// Login (password, GitHub, Lark, OIDC, WeChat), registration (email code, invite code, Turnstile), password reset, OAuth return.
import { useEffect, useState } from 'preact/hooks';
import { attempt, copyText, toast } from '../components/feedback';
import { Field } from '../components/form';
import { Modal } from '../components/modal';
import { Turnstile } from '../components/turnstile';
import { ApiError, get, post, request, withQuery } from '../lib/api';
import { t } from '../lib/i18n';
import { startOAuth, type Provider } from '../lib/oauth';
import { Link, navigate } from '../lib/router';
import { remember, type SessionUser } from '../lib/session';
import { status } from '../lib/status';
import { useStore } from '../lib/store';
import type { PageProps } from '../routes';

const value = (e: Event) => (e.currentTarget as HTMLInputElement).value;

function WeChatLogin({ onClose }: { onClose: () => void }) {
  const s = useStore(status);
  const [code, setCode] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    const data = await attempt(() => get<SessionUser>('/api/oauth/wechat', { code }));
    if (data) {
      remember(data);
      navigate('/dashboard');
    }
  };
  return (
    <Modal title={t('Log in with WeChat')} onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        {s.wechat_qrcode && <img class="qrcode" src={s.wechat_qrcode} alt="WeChat QR code" />}
        <p class="muted">{t('Scan the QR code, follow the account and send "验证码" to get a code.')}</p>
        <Field label={t('Verification code')}>
          <input class="input" value={code} onInput={(e) => setCode(value(e))} required />
        </Field>
        <button class="btn btn-primary" type="submit">{t('Log in')}</button>
      </form>
    </Modal>
  );
}

function OAuthButtons() {
  const s = useStore(status);
  const [wechat, setWechat] = useState(false);
  const go = (provider: Provider) => attempt(() => startOAuth(provider, s));
  const any = (s.github_oauth && s.github_client_id) || s.lark_client_id || s.oidc || s.wechat_login;
  if (!any) return null;
  return (
    <div class="oauth">
      <div class="divider"><span>{t('or')}</span></div>
      <div class="row wrap center">
        {s.github_oauth && s.github_client_id && <button class="btn" onClick={() => go('github')}>GitHub</button>}
        {s.lark_client_id && <button class="btn" onClick={() => go('lark')}>{t('Lark')}</button>}
        {s.oidc && s.oidc_authorization_endpoint && <button class="btn" onClick={() => go('oidc')}>OIDC</button>}
        {s.wechat_login && <button class="btn" onClick={() => setWechat(true)}>{t('WeChat')}</button>}
      </div>
      {wechat && <WeChatLogin onClose={() => setWechat(false)} />}
    </div>
  );
}

export function Login({ query }: PageProps) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    const data = await attempt(() => post<SessionUser>('/api/user/login', { username, password }));
    setBusy(false);
    if (!data) return;
    remember(data);
    toast.success(t('Logged in'));
    const from = query.get('from');
    navigate(from && from.startsWith('/') && !from.startsWith('//') ? from : '/dashboard');
  };
  return (
    <div class="auth-card card">
      <h2>{t('Log in')}</h2>
      {query.get('expired') && <div class="banner">{t('Your session has ended; please log in again.')}</div>}
      <form class="stack" onSubmit={submit}>
        <Field label={t('Username or email')}>
          <input class="input" name="username" autoComplete="username" value={username} onInput={(e) => setUsername(value(e))} required />
        </Field>
        <Field label={t('Password')}>
          <input class="input" name="password" type="password" autoComplete="current-password" value={password}
            onInput={(e) => setPassword(value(e))} required />
        </Field>
        <button class="btn btn-primary btn-block" type="submit" disabled={busy}>{t('Log in')}</button>
      </form>
      <OAuthButtons />
      <p class="auth-links">
        <Link href="/register">{t('No account? Register')}</Link>
        <Link href="/reset">{t('Forgot your password?')}</Link>
      </p>
    </div>
  );
}

const AFF_KEY = 'aff';

export function Register({ query }: PageProps) {
  const s = useStore(status);
  const [form, setForm] = useState({ username: '', password: '', confirm: '', email: '', code: '' });
  const [turnstile, setTurnstile] = useState('');
  const [sent, setSent] = useState(0);
  const [busy, setBusy] = useState(false);
  const aff = query.get('aff') ?? localStorage.getItem(AFF_KEY) ?? '';
  useEffect(() => {
    const fromLink = query.get('aff');
    if (fromLink) localStorage.setItem(AFF_KEY, fromLink);
  }, []);
  useEffect(() => {
    if (sent <= 0) return;
    const timer = setTimeout(() => setSent(sent - 1), 1000);
    return () => clearTimeout(timer);
  }, [sent]);
  const set = (key: keyof typeof form) => (e: Event) => setForm({ ...form, [key]: value(e) });
  const needTurnstile = s.turnstile_check && !turnstile;

  const sendCode = async () => {
    if (needTurnstile) return toast.info(t('Please wait for the Turnstile check.'));
    const done = await attempt(() => get('/api/verification', { email: form.email, turnstile }));
    if (done !== undefined) {
      toast.success(t('A verification code was sent to {email}', { email: form.email }));
      setSent(60);
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    if (form.password.length < 8 || form.password.length > 20) return toast.error(t('The password must be 8 to 20 characters.'));
    if (form.password !== form.confirm) return toast.error(t('The two passwords differ.'));
    if (form.username.length > 12) return toast.error(t('The username may have at most 12 characters.'));
    if (needTurnstile) return toast.info(t('Please wait for the Turnstile check.'));
    setBusy(true);
    const body = { username: form.username, password: form.password, aff_code: aff,
      ...(s.email_verification ? { email: form.email, verification_code: form.code } : {}) };
    const done = await attempt(() => post(withQuery('/api/user/register', { turnstile }), body));
    setBusy(false);
    if (done === undefined) return;
    localStorage.removeItem(AFF_KEY);
    toast.success(t('Registered; you can log in now.'));
    navigate('/login');
  };
  return (
    <div class="auth-card card">
      <h2>{t('Register')}</h2>
      <form class="stack" onSubmit={submit}>
        <Field label={t('Username')} hint={t('At most 12 characters')}>
          <input class="input" name="username" autoComplete="username" value={form.username} onInput={set('username')} required maxLength={12} />
        </Field>
        <Field label={t('Password')} hint={t('8 to 20 characters')}>
          <input class="input" name="password" type="password" autoComplete="new-password" value={form.password} onInput={set('password')} required />
        </Field>
        <Field label={t('Confirm password')}>
          <input class="input" name="confirm" type="password" autoComplete="new-password" value={form.confirm} onInput={set('confirm')} required />
        </Field>
        {s.email_verification && (
          <>
            <Field label={t('Email')}>
              <div class="row">
                <input class="input" name="email" type="email" value={form.email} onInput={set('email')} required />
                <button type="button" class="btn" disabled={!form.email || sent > 0} onClick={sendCode}>
                  {sent > 0 ? t('Resend in {n}s', { n: sent }) : t('Send code')}
                </button>
              </div>
            </Field>
            <Field label={t('Verification code')}>
              <input class="input" name="verification_code" value={form.code} onInput={set('code')} required />
            </Field>
          </>
        )}
        {aff && <p class="muted">{t('Invited with code {code}', { code: aff })}</p>}
        {s.turnstile_check && <Turnstile siteKey={s.turnstile_site_key} onToken={setTurnstile} />}
        <button class="btn btn-primary btn-block" type="submit" disabled={busy}>{t('Register')}</button>
      </form>
      <p class="auth-links"><Link href="/login">{t('Have an account? Log in')}</Link></p>
    </div>
  );
}

export function ResetRequest() {
  const s = useStore(status);
  const [email, setEmail] = useState('');
  const [turnstile, setTurnstile] = useState('');
  const [sent, setSent] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (s.turnstile_check && !turnstile) return toast.info(t('Please wait for the Turnstile check.'));
    const done = await attempt(() => get('/api/reset_password', { email, turnstile }));
    if (done !== undefined) setSent(true);
  };
  return (
    <div class="auth-card card">
      <h2>{t('Reset password')}</h2>
      {sent ? (
        <p>{t('If the address belongs to an account, a reset link is on its way to {email}. It is valid for 10 minutes.', { email })}</p>
      ) : (
        <form class="stack" onSubmit={submit}>
          <Field label={t('Email')}>
            <input class="input" type="email" name="email" value={email} onInput={(e) => setEmail(value(e))} required />
          </Field>
          {s.turnstile_check && <Turnstile siteKey={s.turnstile_site_key} onToken={setTurnstile} />}
          <button class="btn btn-primary btn-block" type="submit">{t('Send reset link')}</button>
        </form>
      )}
      <p class="auth-links"><Link href="/login">{t('Back to login')}</Link></p>
    </div>
  );
}

/** The page the emailed link opens: confirming sets a new random password, shown once. */
export function ResetConfirm({ query }: PageProps) {
  const email = query.get('email') ?? '';
  const token = query.get('token') ?? '';
  const [password, setPassword] = useState('');
  const confirm = async () => {
    const data = await attempt(() => post<string>('/api/user/reset', { email, token }));
    if (data) {
      setPassword(data);
      await copyText(data, t('New password'));
    }
  };
  return (
    <div class="auth-card card">
      <h2>{t('Reset password')}</h2>
      {!email || !token ? (
        <p>{t('This reset link is incomplete.')}</p>
      ) : password ? (
        <div class="stack">
          <p>{t('Your new password (copied to the clipboard):')}</p>
          <code class="secret" data-testid="new-password">{password}</code>
          <Link href="/login" class="btn btn-primary">{t('Log in')}</Link>
        </div>
      ) : (
        <div class="stack">
          <p>{t('Reset the password of {email}?', { email })}</p>
          <button class="btn btn-primary" onClick={confirm}>{t('Confirm reset')}</button>
        </div>
      )}
    </div>
  );
}

/** /oauth/github|lark|oidc?code=&state=: logs in, or binds the account when already logged in. */
export function OAuthCallback({ params, query }: PageProps) {
  const [error, setError] = useState('');
  useEffect(() => {
    const provider = params.provider;
    if (!['github', 'lark', 'oidc'].includes(provider)) {
      setError(t('Unknown sign-in provider.'));
      return;
    }
    request<SessionUser>('GET', withQuery(`/api/oauth/${provider}`, { code: query.get('code'), state: query.get('state') }))
      .then((answer) => {
        if (!answer.success) throw new ApiError(answer.message);
        if (answer.message === 'bind') {
          toast.success(t('Account bound'));
          navigate('/setting', true);
        } else {
          remember(answer.data);
          toast.success(t('Logged in'));
          navigate('/dashboard', true);
        }
      })
      .catch((e: Error) => setError(e.message));
  }, []);
  return (
    <div class="auth-card card">
      {error ? (
        <>
          <h2>{t('Sign-in failed')}</h2>
          <p class="field-error">{error}</p>
          <Link href="/login">{t('Back to login')}</Link>
        </>
      ) : (
        <p>{t('Signing you in…')}</p>
      )}
    </div>
  );
}
