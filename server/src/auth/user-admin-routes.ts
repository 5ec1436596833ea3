import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RelayError } from '../http/relay-error.js';
import { CreateUserRequest, UserListResponse, UsernameParams, UserSummary } from '../protocol/auth-protocol.js';
import type { RelayServices } from '../relay-services.js';
import { ADMIN_ROLES, type Role } from './roles.js';
import { UserAccounts, type AdminActor } from './user-accounts.js';

// The wire's role list (protocol) and the relay's (roles.ts) must name the same roles.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _rolesMatch: Same<Role, UserSummary['role']> = true;

/**
 * /admin/users: list, create, disable and enable accounts. Admins only; the guard checks the
 * session is live, so a revoked admin session stops here too.
 */
export function registerUserAdminRoutes(app: FastifyInstance, services: RelayServices): void {
  const accounts = new UserAccounts(services.store);
  const onRequest = services.guards.requireUser(ADMIN_ROLES);

  app.get('/admin/users', {
    onRequest,
    schema: { response: { 200: UserListResponse } },
  }, async () => ({ users: await accounts.list() }));

  app.post<{ Body: CreateUserRequest }>('/admin/users', {
    onRequest,
    schema: { body: CreateUserRequest, response: { 201: UserSummary } },
  }, async (request, reply) => {
    const { username, role, password } = request.body;
    const user = await accounts.add(username, role, password, actorOf(request));
    return reply.status(201).send(user);
  });

  app.post<{ Params: UsernameParams }>('/admin/users/:username/disable', {
    onRequest,
    schema: { params: UsernameParams, response: { 200: UserSummary } },
  }, async (request) => {
    const actor = actorOf(request);
    // An admin locking themselves out mid-session is always a slip; another admin or the CLI can do it.
    if (request.principal?.username.toLowerCase() === request.params.username.toLowerCase()) {
      throw new RelayError(400, 'BAD_REQUEST', 'you cannot disable the account you are signed in with');
    }
    return accounts.setDisabled(request.params.username, true, actor);
  });

  app.post<{ Params: UsernameParams }>('/admin/users/:username/enable', {
    onRequest,
    schema: { params: UsernameParams, response: { 200: UserSummary } },
  }, async (request) => accounts.setDisabled(request.params.username, false, actorOf(request)));
}

function actorOf(request: FastifyRequest): AdminActor {
  return { userId: request.principal?.userId ?? null, address: request.ip };
}
