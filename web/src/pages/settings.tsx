// /setting: personal settings for everyone; operation, system and other options for root.
import { useEffect, useState } from 'preact/hooks';
import { attempt, confirmAction, copyText, toast } from '../components/feedback';
import { Field } from '../components/form';
import { Modal } from '../components/modal';
import { Turnstile } from '../components/turnstile';
import { del, get, post, put } from '../lib/api';
import { renderQuota } from '../lib/format';
import { t } from '../lib/i18n';
import { startOAuth } from '../lib/oauth';
import { navigate } from '../lib/router';
import { forget, isRoot, remember, user } from '../lib/session';
import { serverAddress, status } from '../lib/status';
import { useStore } from '../lib/store';
import { roleName, type User } from '../lib/users';
import type { PageProps } from '../routes';
import { OptionsTab } from './options';
import type { OptionTab } from '../lib/option-groups';

const value = (e: Event) => (e.currentTarget as HTMLInputElement).value;

function BindEmail({ onDone, onClose }: { onDone: () => void; onClose: () => void }) {
  const s = useStore(status);
  const [email, setEmail] = useState('');
  const [code, setCode] = useState('');
  const [turnstile, setTurnstile] = useState('');
  const send = async () => {
    if ((await attempt(() => get('/api/verification', { email, turnstile }))) !== undefined) toast.success(t('A verification code was sent to {email}', { email }));
  };
  const bind = async (e: Event) => {
    e.preventDefault();
    if ((await attempt(() => get('/api/oauth/email/bind', { email, code }))) !== undefined) {
      toast.success(t('Email bound'));
      onDone();
    }
  };
  return (
    <Modal title={t('Bind email')} onClose={onClose}>
      <form class="stack" onSubmit={bind}>
        <Field label={t('Email')}>
          <div class="row">
            <input class="input" type="email" value={email} onInput={(e) => setEmail(value(e))} required />
            <button type="button" class="btn" disabled={!email || (s.turnstile_check && !turnstile)} onClick={send}>{t('Send code')}</button>
          </div>
        </Field>
        {s.turnstile_check && <Turnstile siteKey={s.turnstile_site_key} onToken={setTurnstile} />}
        <Field label={t('Verification code')}><input class="input" value={code} onInput={(e) => setCode(value(e))} required /></Field>
        <button class="btn btn-primary" type="submit">{t('Bind')}</button>
      </form>
    </Modal>
  );
}

function BindWeChat({ onDone, onClose }: { onDone: () => void; onClose: () => void }) {
  const s = useStore(status);
  const [code, setCode] = useState('');
  const bind = async (e: Event) => {
    e.preventDefault();
    if ((await attempt(() => get('/api/oauth/wechat/bind', { code }))) !== undefined) {
      toast.success(t('WeChat bound'));
      onDone();
    }
  };
  return (
    <Modal title={t('Bind WeChat')} onClose={onClose}>
      <form class="stack" onSubmit={bind}>
        {s.wechat_qrcode && <img class="qrcode" src={s.wechat_qrcode} alt="WeChat QR code" />}
        <p class="muted">{t('Scan the QR code, follow the account and send "验证码" to get a code.')}</p>
        <Field label={t('Verification code')}><input class="input" value={code} onInput={(e) => setCode(value(e))} required /></Field>
        <button class="btn btn-primary" type="submit">{t('Bind')}</button>
      </form>
    </Modal>
  );
}

function Personal() {
  const s = useStore(status);
  const [me, setMe] = useState<User | null>(null);
  const [profile, setProfile] = useState({ username: '', display_name: '', password: '', confirm: '' });
  const [accessToken, setAccessToken] = useState('');
  const [invite, setInvite] = useState('');
  const [dialog, setDialog] = useState<'' | 'email' | 'wechat' | 'delete'>('');
  const [confirmName, setConfirmName] = useState('');
  const refresh = () => attempt(() => get<User>('/api/user/self')).then((u) => {
    if (!u) return;
    setMe(u);
    setProfile({ username: u.username, display_name: u.display_name, password: '', confirm: '' });
  });
  useEffect(() => {
    refresh();
  }, []);

  const saveProfile = async (e: Event) => {
    e.preventDefault();
    if (profile.password && profile.password !== profile.confirm) return toast.error(t('The two passwords differ.'));
    if (profile.password && (profile.password.length < 8 || profile.password.length > 20)) return toast.error(t('The password must be 8 to 20 characters.'));
    const body = { username: profile.username, display_name: profile.display_name, password: profile.password };
    if ((await attempt(() => put('/api/user/self', body))) === undefined) return;
    toast.success(t('Profile saved'));
    const current = user.get();
    if (current) remember({ ...current, username: profile.username, display_name: profile.display_name });
    refresh();
  };
  const generateToken = async () => {
    const token = await attempt(() => get<string>('/api/user/token'));
    if (token) {
      setAccessToken(token);
      await copyText(token, t('Access token'));
    }
  };
  const inviteLink = async () => {
    const code = await attempt(() => get<string>('/api/user/aff'));
    if (!code) return;
    const link = `${serverAddress(s)}/register?aff=${code}`;
    setInvite(link);
    await copyText(link, t('Invite link'));
  };
  const logoutEverywhere = async () => {
    if ((await attempt(() => post('/api/user/logout_all'))) === undefined) return;
    forget();
    toast.success(t('Logged out on every device'));
    navigate('/login');
  };
  const deleteAccount = async () => {
    if ((await attempt(() => del('/api/user/self'))) === undefined) return;
    forget();
    toast.success(t('Account deleted'));
    navigate('/');
  };
  const done = () => {
    setDialog('');
    refresh();
  };
  if (!me) return <div class="empty">{t('Loading…')}</div>;
  return (
    <div class="stack">
      <section class="card">
        <h2>{t('Account')}</h2>
        <dl class="facts">
          <dt>ID</dt><dd>{me.id}</dd>
          <dt>{t('Username')}</dt><dd>{me.username}</dd>
          <dt>{t('Role')}</dt><dd>{roleName(me.role)}</dd>
          <dt>{t('Group')}</dt><dd>{me.group}</dd>
          <dt>{t('Balance')}</dt><dd>{renderQuota(me.quota, s)}</dd>
          <dt>{t('Email')}</dt><dd>{me.email || t('not bound')}</dd>
          <dt>GitHub</dt><dd>{me.github_id || t('not bound')}</dd>
          <dt>{t('WeChat')}</dt><dd>{me.wechat_id ? t('bound') : t('not bound')}</dd>
          <dt>{t('Lark')}</dt><dd>{me.lark_id ? t('bound') : t('not bound')}</dd>
        </dl>
      </section>
      <form class="card" onSubmit={saveProfile}>
        <h2>{t('Profile')}</h2>
        <div class="form-grid">
          <Field label={t('Username')}><input class="input" name="username" value={profile.username} onInput={(e) => setProfile({ ...profile, username: value(e) })} /></Field>
          <Field label={t('Display name')}><input class="input" name="display_name" value={profile.display_name} onInput={(e) => setProfile({ ...profile, display_name: value(e) })} /></Field>
          <Field label={t('New password')} hint={t('Leave empty to keep the current one')}>
            <input class="input" type="password" name="password" autoComplete="new-password" value={profile.password} onInput={(e) => setProfile({ ...profile, password: value(e) })} />
          </Field>
          <Field label={t('Confirm password')}>
            <input class="input" type="password" name="confirm" autoComplete="new-password" value={profile.confirm} onInput={(e) => setProfile({ ...profile, confirm: value(e) })} />
          </Field>
        </div>
        <div class="form-actions"><button class="btn btn-primary" type="submit">{t('Save profile')}</button></div>
      </form>
      <section class="card stack">
        <h2>{t('Access and invitations')}</h2>
        <div class="row wrap">
          <button class="btn" onClick={generateToken}>{t('Generate access token')}</button>
          <button class="btn" onClick={inviteLink}>{t('Copy invite link')}</button>
          <button class="btn" onClick={logoutEverywhere}>{t('Log out on every device')}</button>
        </div>
        {accessToken && <p>{t('System access token (send it as the Authorization header to /api):')} <code class="secret" data-testid="access-token">{accessToken}</code></p>}
        {invite && <p>{t('Invite link:')} <code class="secret" data-testid="invite-link">{invite}</code></p>}
      </section>
      <section class="card stack">
        <h2>{t('Bindings')}</h2>
        <div class="row wrap">
          <button class="btn" onClick={() => setDialog('email')}>{me.email ? t('Change email') : t('Bind email')}</button>
          {s.github_oauth && <button class="btn" onClick={() => attempt(() => startOAuth('github', s))}>{t('Bind GitHub')}</button>}
          {s.wechat_login && <button class="btn" onClick={() => setDialog('wechat')}>{t('Bind WeChat')}</button>}
          {s.lark_client_id && <button class="btn" onClick={() => attempt(() => startOAuth('lark', s))}>{t('Bind Lark')}</button>}
          {s.oidc && s.oidc_authorization_endpoint && <button class="btn" onClick={() => attempt(() => startOAuth('oidc', s))}>{t('Bind OIDC')}</button>}
        </div>
      </section>
      {!isRoot(user.get()) && (
        <section class="card stack danger-zone">
          <h2>{t('Delete account')}</h2>
          <p class="muted">{t('Your tokens stop working and the account cannot be restored.')}</p>
          <div><button class="btn btn-danger" onClick={() => setDialog('delete')}>{t('Delete my account')}</button></div>
        </section>
      )}
      {dialog === 'email' && <BindEmail onDone={done} onClose={() => setDialog('')} />}
      {dialog === 'wechat' && <BindWeChat onDone={done} onClose={() => setDialog('')} />}
      {dialog === 'delete' && (
        <Modal title={t('Delete account')} onClose={() => setDialog('')} footer={
          <button class="btn btn-danger" disabled={confirmName !== me.username} onClick={async () => {
            if (await confirmAction(t('Really delete the account {name}?', { name: me.username }))) deleteAccount();
          }}>{t('Delete my account')}</button>}>
          <Field label={t('Type your username to confirm')}><input class="input" value={confirmName} onInput={(e) => setConfirmName(value(e))} /></Field>
        </Modal>
      )}
    </div>
  );
}

type Tab = 'personal' | OptionTab;

export function Settings({ query }: PageProps) {
  const me = useStore(user);
  const root = isRoot(me);
  const initial = (query.get('tab') as Tab) ?? 'personal';
  const [tab, setTab] = useState<Tab>(root || initial === 'personal' ? initial : 'personal');
  const tabs: [Tab, string][] = [['personal', t('Personal')]];
  if (root) tabs.push(['operation', t('Operation')], ['system', t('System')], ['other', t('Other')]);
  const choose = (next: Tab) => {
    setTab(next);
    window.history.replaceState(null, '', next === 'personal' ? '/setting' : `/setting?tab=${next}`);
  };
  return (
    <div class="stack">
      <h1 class="page-title">{t('Settings')}</h1>
      {tabs.length > 1 && (
        <div class="tabs" role="tablist">
          {tabs.map(([id, label]) => (
            <button key={id} role="tab" class={tab === id ? 'tab active' : 'tab'} aria-selected={tab === id} onClick={() => choose(id)}>{label}</button>
          ))}
        </div>
      )}
      {tab === 'personal' ? <Personal /> : <OptionsTab key={tab} tab={tab} />}
    </div>
  );
}
