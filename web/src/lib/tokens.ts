// API tokens: their shape, status names, and the chat-client deep links built from a key (§17).
import { t } from './i18n';
import type { Limits } from './limits';

export interface Token extends Partial<Limits> {
  id: number;
  user_id: number;
  key: string;
  status: number;
  name: string;
  created_time: number;
  accessed_time: number;
  expired_time: number;
  remain_quota: number;
  unlimited_quota: boolean;
  used_quota: number;
  models: string | null;
  subnet: string | null;
}

export const TOKEN_ENABLED = 1;
export const TOKEN_DISABLED = 2;

export function tokenStatus(status: number): { text: string; tone: 'green' | 'red' | 'grey' | 'orange' } {
  switch (status) {
    case 1: return { text: t('Enabled'), tone: 'green' };
    case 2: return { text: t('Disabled'), tone: 'red' };
    case 3: return { text: t('Expired'), tone: 'grey' };
    case 4: return { text: t('Exhausted'), tone: 'orange' };
    default: return { text: t('Unknown'), tone: 'grey' };
  }
}

export interface ChatTarget {
  name: string;
  url: string;
}

/** NextChat-style `#/?settings=` link (also what the ChatLink option points at). */
function nextChat(base: string, key: string, server: string): string {
  return `${base.replace(/\/+$/, '')}/#/?settings=${encodeURIComponent(JSON.stringify({ key, url: server }))}`;
}

/** The "chat" deep links for `sk-<key>` against this gateway at `server`; ChatLink first when set. */
export function chatTargets(rawKey: string, server: string, chatLink: string): ChatTarget[] {
  const key = `sk-${rawKey}`;
  const targets: ChatTarget[] = [];
  if (chatLink) targets.push({ name: 'ChatLink', url: nextChat(chatLink, key, server) });
  targets.push(
    { name: 'NextChat', url: nextChat('https://app.nextchat.dev', key, server) },
    { name: 'AMA', url: `ama://set-api-key?server=${encodeURIComponent(server)}&key=${encodeURIComponent(key)}` },
    { name: 'OpenCat', url: `opencat://team/join?domain=${encodeURIComponent(server)}&token=${encodeURIComponent(key)}` },
    {
      name: 'LobeChat',
      url: `https://chat-preview.lobehub.com/?settings=${encodeURIComponent(
        JSON.stringify({ keyVaults: { openai: { apiKey: key, baseURL: `${server}/v1` } } }),
      )}`,
    },
  );
  return targets;
}
