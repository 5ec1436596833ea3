import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { RelayError } from '../http/relay-error.js';
import { ERROR_RESPONSES } from '../http/route-responses.js';
import { RELAY_SERVICES_PLUGIN } from '../http/services-plugin.js';
import { CreateUserRequest, UserListResponse, UsernameParams, UserSummary } from '../protocol/auth-protocol.js';
import { ADMIN_ROLES, type Role } from './roles.js';
import { UserAccounts, type AdminActor } from './user-accounts.js';

// The wire's role list (protocol) and the relay's (roles.ts) must name the same roles.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _rolesMatch: Same<Role, UserSummary['role']> = true;

/**
 * /admin/users: list, create, disable and enable accounts. Admins only; the guard checks the
 * session is live, so a revoked admin session stops here too.
 */
const registerUserAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { store, guards } = app.services;
  const accounts = new UserAccounts(store);
  const onRequest = guards.requireUser(ADMIN_ROLES);

  app.get('/admin/users', {
    onRequest,
    schema: { response: { 200: UserListResponse, ...ERROR_RESPONSES } },
  }, async () => ({ users: await accounts.list() }));

  app.post('/admin/users', {
    onRequest,
    schema: { body: CreateUserRequest, response: { 201: UserSummary, ...ERROR_RESPONSES } },
  }, async (request, reply) => {
    const { username, role, password } = request.body;
    const user = await accounts.add(username, role, password, actorOf(request));
    return reply.status(201).send(user);
  });

  app.post('/admin/users/:username/disable', {
    onRequest,
    schema: { params: UsernameParams, response: { 200: UserSummary, ...ERROR_RESPONSES } },
  }, async (request) => {
    const actor = actorOf(request);
    // An admin locking themselves out mid-session is always a slip; another admin or the CLI can do it.
    if (request.principal?.username.toLowerCase() === request.params.username.toLowerCase()) {
      throw new RelayError(400, 'BAD_REQUEST', 'you cannot disable the account you are signed in with');
    }
    return accounts.setDisabled(request.params.username, true, actor);
  });

  app.post('/admin/users/:username/enable', {
    onRequest,
    schema: { params: UsernameParams, response: { 200: UserSummary, ...ERROR_RESPONSES } },
  }, async (request) => accounts.setDisabled(request.params.username, false, actorOf(request)));
};

function actorOf(request: Pick<FastifyRequest, 'principal' | 'ip'>): AdminActor {
  return { userId: request.principal?.userId ?? null, address: request.ip };
}

export const userAdminRoutes = fp(registerUserAdminRoutes, { name: 'user-admin-routes', dependencies: [RELAY_SERVICES_PLUGIN] });
