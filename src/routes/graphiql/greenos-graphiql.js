// Mounts GraphiQL on this GreenOS instance's /graphql. A bearer token goes in the Headers
// tab: {"Authorization": "Bearer <token>"}.
(function () {
  var fetcher = GraphiQL.createFetcher({ url: '/graphql' });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      defaultQuery:
        '# Totals by country and month\n' +
        '{\n  impactTotals(groupBy: [COUNTRY, MONTH]) {\n' +
        '    countryCode month impactsCount totalCo2AvoidedKg\n  }\n}\n',
    })
  );
})();
