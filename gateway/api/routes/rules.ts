import Type from 'typebox'
import type { Alerting } from '../../alerts/engine.ts'
import { RULE_TYPES, RuleError } from '../../alerts/rules.ts'
import { AuthErrors } from '../schemas.ts'
import type { RoutePlugin } from '../types.ts'
import { httpError } from '../errors.ts'

export interface RuleRouteDeps {
  alerting: Alerting
}

// Each rule is checked by parseRules against its own type's schema, so the 400 names the rule
// and the field (`rules[2].thresholds_mm must be in ascending order`) rather than a union branch.
const RulesBody = Type.Object(
  {
    version: Type.Literal(1),
    rules: Type.Array(
      Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), type: Type.Enum(RULE_TYPES) }, { additionalProperties: true }),
      { maxItems: 1000 },
    ),
  },
  { additionalProperties: false, description: 'Rules document, as config/rules.yaml' },
)
const RulesAnswer = Type.Object({ version: Type.Literal(1), rules: Type.Array(Type.Unknown()) }, { additionalProperties: false })

export const ruleRoutes: RoutePlugin<RuleRouteDeps> = async (app, deps) => {
  app.get(
    '/rules',
    {
      config: { roles: ['viewer', 'officer', 'technician'] },
      schema: { tags: ['rules'], summary: 'The alert rules in force', response: { 200: RulesAnswer, ...AuthErrors } },
    },
    async () => deps.alerting.rules(),
  )

  app.put(
    '/rules',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['rules'],
        summary: 'Replace the alert rules (checked first; stored in <dataDir>/rules.yaml, or PostgreSQL for every node of a cluster)',
        body: RulesBody,
        response: { 200: RulesAnswer, ...AuthErrors },
      },
    },
    async (request) => {
      try {
        const doc = await deps.alerting.replaceRules(request.body, request.actor?.id ?? 'anonymous')
        request.log.info({ actor: request.actor?.id, rules: doc.rules.length }, 'rules replaced')
        return doc
      } catch (err) {
        if (err instanceof RuleError) throw httpError(400, `body/${err.message}`)
        throw err
      }
    },
  )
}
