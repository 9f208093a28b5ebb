import Type from 'typebox'
import { reportCsv } from '../../reports/csv.ts'
import { PDF_TYPE, wantsPdf } from '../../reports/pdf.ts'
import { localDate, reportRequest } from '../../reports/period.ts'
import type { ReportService } from '../../reports/service.ts'
import { ReportSchema } from '../../reports/types.ts'
import { AuthErrors, ErrorSchema } from '../schemas.ts'
import { scopeOf } from '../scope.ts'
import type { RoutePlugin } from '../types.ts'
import { storeFailure } from '../errors.ts'

export interface ReportRouteDeps {
  reports: ReportService
}

const READ = ['technician', 'officer', 'viewer'] as const
const TimeText = (what: string) =>
  Type.String({
    minLength: 10,
    maxLength: 40,
    description: `${what}: a date YYYY-MM-DD (a whole day, Vietnam time) or ISO 8601 with a zone`,
  })
const Place = Type.String({ minLength: 1, maxLength: 100 })

const ReportQuery = Type.Object(
  {
    from: TimeText('Start, inclusive'),
    to: Type.Optional(TimeText('End: exclusive for a time, the whole day for a date (default: one day after from)')),
    district: Type.Optional(Place),
    station: Type.Optional(Place),
    lang: Type.Optional(Type.Enum(['vi', 'en'], { description: 'Language of titles, labels and the summary (default vi)' })),
    format: Type.Optional(Type.Enum(['json', 'csv', 'pdf'], { description: 'json (default), csv (one row per figure) or pdf' })),
  },
  { additionalProperties: false },
)

export const reportRoutes: RoutePlugin<ReportRouteDeps> = async (app, deps) => {
  app.get(
    '/reports',
    {
      config: { roles: READ },
      schema: {
        tags: ['reports'],
        summary: 'Situation report for a period and a place (docs/reports.md): water levels, rainfall, VN_AQI hours, cameras, alerts',
        querystring: ReportQuery,
        // 200 is the JSON report; format=csv answers text/csv and format=pdf application/pdf.
        response: { 200: ReportSchema, ...AuthErrors, 503: ErrorSchema },
      },
    },
    async (request, reply) => {
      const q = request.query
      const req = reportRequest(q)
      // A browser link asks with format=pdf; an upstream system may ask with Accept: application/pdf.
      const format = q.format ?? (wantsPdf(undefined, request.headers.accept) ? 'pdf' : 'json')
      let report
      try {
        report = await deps.reports.build(req, scopeOf(request.actor))
      } catch (err) {
        storeFailure(err)
      }
      // The period's first local day (a Vietnam day starts at 17:00 UTC the day before), so a
      // leader's downloads sort by date.
      const name = `report-${localDate(Date.parse(report.period.from))}`
      if (format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${name}.csv"`)
          .send(reportCsv(report) as never)
      }
      if (format === 'pdf') {
        const pdf = await deps.reports.renderReportPdf(report)
        return reply
          .type(PDF_TYPE)
          .header('content-disposition', `inline; filename="${name}-${report.lang}.pdf"`)
          .header('cache-control', 'no-store')
          .send(pdf as never)
      }
      return report
    },
  )
}
