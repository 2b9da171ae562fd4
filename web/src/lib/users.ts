// The user object of GET /api/user/self and the admin user routes.
import { t } from './i18n';
import type { Limits } from './limits';

export interface User extends Partial<Limits> {
  id: number;
  username: string;
  display_name: string;
  role: number;
  status: number;
  email: string;
  github_id: string;
  wechat_id: string;
  lark_id: string;
  oidc_id: string;
  quota: number;
  used_quota: number;
  request_count: number;
  group: string;
  aff_code: string;
  inviter_id: number;
  access_token?: string;
}

export function roleName(role: number): string {
  if (role >= 100) return t('Root');
  if (role >= 10) return t('Admin');
  if (role >= 1) return t('User');
  return t('Guest');
}
