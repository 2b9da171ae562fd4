// The route table: One API's default-theme paths (§17), the page for each and the role it needs.
import type { ComponentType } from 'preact';
import { ROLE_ADMIN, ROLE_USER } from './lib/session';
import { About, Home } from './pages/home';
import { Login, OAuthCallback, Register, ResetConfirm, ResetRequest } from './pages/auth';
import { Dashboard } from './pages/dashboard';
import { Tokens } from './pages/tokens';
import { TokenEdit } from './pages/token-edit';
import { Logs } from './pages/logs';
import { TopUp } from './pages/topup';
import { Settings } from './pages/settings';
import { Chat } from './pages/chat';
import { Channels } from './pages/channels';
import { ChannelEdit } from './pages/channel-edit';
import { Users } from './pages/users';
import { UserEdit } from './pages/user-edit';
import { Redemptions } from './pages/redemptions';
import { RedemptionEdit } from './pages/redemption-edit';
import { Pricing } from './pages/pricing';

export interface PageProps {
  params: Record<string, string>;
  query: URLSearchParams;
}

export interface Route {
  path: string;
  page: ComponentType<PageProps>;
  role?: number;
}

export const routes: Route[] = [
  { path: '/', page: Home },
  { path: '/about', page: About },
  { path: '/pricing', page: Pricing },
  { path: '/login', page: Login },
  { path: '/register', page: Register },
  { path: '/reset', page: ResetRequest },
  { path: '/user/reset', page: ResetConfirm },
  { path: '/oauth/:provider', page: OAuthCallback },
  { path: '/dashboard', page: Dashboard, role: ROLE_USER },
  { path: '/token', page: Tokens, role: ROLE_USER },
  { path: '/token/add', page: TokenEdit, role: ROLE_USER },
  { path: '/token/edit/:id', page: TokenEdit, role: ROLE_USER },
  { path: '/log', page: Logs, role: ROLE_USER },
  { path: '/topup', page: TopUp, role: ROLE_USER },
  { path: '/setting', page: Settings, role: ROLE_USER },
  { path: '/user/edit', page: Settings, role: ROLE_USER },
  { path: '/chat', page: Chat, role: ROLE_USER },
  { path: '/channel', page: Channels, role: ROLE_ADMIN },
  { path: '/channel/add', page: ChannelEdit, role: ROLE_ADMIN },
  { path: '/channel/edit/:id', page: ChannelEdit, role: ROLE_ADMIN },
  { path: '/user', page: Users, role: ROLE_ADMIN },
  { path: '/user/add', page: UserEdit, role: ROLE_ADMIN },
  { path: '/user/edit/:id', page: UserEdit, role: ROLE_ADMIN },
  { path: '/redemption', page: Redemptions, role: ROLE_ADMIN },
  { path: '/redemption/add', page: RedemptionEdit, role: ROLE_ADMIN },
  { path: '/redemption/edit/:id', page: RedemptionEdit, role: ROLE_ADMIN },
];
