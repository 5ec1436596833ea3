/**
 * Roles of relay accounts. Device accounts belong to unattended workstations (watched folders):
 * they upload but cannot sign in interactively with TOTP or administer anything.
 */
export const ROLES = ['admin', 'radiographer', 'clinician', 'radiologist', 'device'] as const;
export type Role = (typeof ROLES)[number];

/** Roles allowed to send studies. Admins administer; radiologists receive in the PACS. */
export const UPLOADER_ROLES: readonly Role[] = ['radiographer', 'clinician', 'device'];
export const ADMIN_ROLES: readonly Role[] = ['admin'];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
