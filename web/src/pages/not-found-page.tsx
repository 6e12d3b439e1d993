import { Link } from "react-router";
import { Empty } from "../components/data-state.tsx";
import { PageHeader } from "../components/page-header.tsx";

export function NotFoundPage() {
  return (
    <>
      <PageHeader title="Page not found" />
      <Empty action={<Link to="/jobs">Go to jobs</Link>}>There is no page at this address.</Empty>
    </>
  );
}
