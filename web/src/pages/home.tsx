// The public home and about pages: root's custom content when set (Markdown, HTML or a URL), else a default.
import { useEffect, useState } from 'preact/hooks';
import { RichContent } from '../components/content';
import { get } from '../lib/api';
import { formatTime } from '../lib/format';
import { t } from '../lib/i18n';
import { Link } from '../lib/router';
import { user } from '../lib/session';
import { serverAddress, status } from '../lib/status';
import { useStore } from '../lib/store';

/** Loads an option-backed page text; null while loading. */
function useContent(path: string): string | null {
  const [text, setText] = useState<string | null>(null);
  useEffect(() => {
    get<string>(path).then((x) => setText(x ?? '')).catch(() => setText(''));
  }, [path]);
  return text;
}

function DefaultHome() {
  const s = useStore(status);
  const me = useStore(user);
  return (
    <div class="stack">
      <section class="hero card">
        <h1>{s.system_name || 'One API'}</h1>
        <p class="lead">{t('One OpenAI-compatible endpoint in front of many LLM providers, with keys, quotas and usage logs.')}</p>
        <div class="row">
          {me ? (
            <Link href="/dashboard" class="btn btn-primary">{t('Open the dashboard')}</Link>
          ) : (
            <>
              <Link href="/login" class="btn btn-primary">{t('Log in')}</Link>
              <Link href="/register" class="btn">{t('Register')}</Link>
            </>
          )}
        </div>
      </section>
      <section class="card">
        <h2>{t('System status')}</h2>
        <dl class="facts">
          <dt>{t('Name')}</dt><dd>{s.system_name}</dd>
          <dt>{t('Version')}</dt><dd>{s.version || '-'}</dd>
          <dt>{t('Started at')}</dt><dd>{formatTime(s.start_time)}</dd>
          <dt>{t('API base URL')}</dt><dd class="mono">{serverAddress(s)}/v1</dd>
          <dt>{t('Email verification')}</dt><dd>{s.email_verification ? t('enabled') : t('disabled')}</dd>
          <dt>{t('GitHub login')}</dt><dd>{s.github_oauth ? t('enabled') : t('disabled')}</dd>
          <dt>{t('WeChat login')}</dt><dd>{s.wechat_login ? t('enabled') : t('disabled')}</dd>
          <dt>{t('Turnstile check')}</dt><dd>{s.turnstile_check ? t('enabled') : t('disabled')}</dd>
        </dl>
      </section>
    </div>
  );
}

export function Home() {
  const content = useContent('/api/home_page_content');
  if (content === null) return <div class="empty">{t('Loading…')}</div>;
  if (!content.trim()) return <DefaultHome />;
  return <div class="custom-content" data-testid="home-content"><RichContent text={content} /></div>;
}

export function About() {
  const content = useContent('/api/about');
  if (content === null) return <div class="empty">{t('Loading…')}</div>;
  if (!content.trim()) {
    return (
      <div class="card">
        <h2>{t('About')}</h2>
        <p>{t('The administrator has not written an about page yet. The root user can set it in Settings → Other.')}</p>
      </div>
    );
  }
  return <div class="custom-content" data-testid="about-content"><RichContent text={content} /></div>;
}
