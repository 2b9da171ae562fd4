// /chat: the operator's chat UI (ChatLink) embedded, as One API's default theme does.
import { t } from '../lib/i18n';
import { Link } from '../lib/router';
import { status } from '../lib/status';
import { useStore } from '../lib/store';

export function Chat() {
  const s = useStore(status);
  if (!s.chat_link) {
    return (
      <div class="card">
        <h2>{t('Chat')}</h2>
        <p>{t('No chat page is configured (option ChatLink). Use a token with any OpenAI client instead:')} <Link href="/token">{t('Tokens')}</Link></p>
      </div>
    );
  }
  return <iframe class="content-frame chat-frame" src={s.chat_link} title="chat" />;
}
