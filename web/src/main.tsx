import "./styles.css";
import { QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router";
import { loadConfig } from "./api/config.ts";
import { createServices, ServicesProvider } from "./api/services.tsx";
import { createAppRouter } from "./app-router.tsx";
import { applyStoredTheme } from "./hooks/use-theme.ts";

applyStoredTheme();

const config = await loadConfig();
const services = createServices(config);
const router = createAppRouter();

const container = document.getElementById("root");
if (!container) throw new Error("index.html has no #root");

createRoot(container).render(
  <StrictMode>
    <ServicesProvider services={services}>
      <QueryClientProvider client={services.queryClient}>
        <RouterProvider router={router} />
      </QueryClientProvider>
    </ServicesProvider>
  </StrictMode>,
);
